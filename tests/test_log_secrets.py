"""No token in any log line: a real ``nps-tv serve`` (gunicorn, access log on) receives webhook
deliveries with ``?token=``, share-link visits, link cookies, admin and forged bearer tokens,
and its whole output (access and error logs) is searched for every one of them."""

from __future__ import annotations

import http.client

from app.store import Store
from app.store.links import ShareLinks
from tests.servers import start_serve, stop

INGEST = "ingest-SECRET-aaaaaaaaaaaaaaaa"
DELIGHTED = "delighted-SECRET-bbbbbbbbbbbbbb"
ADMIN = "admin-SECRET-cccccccccccccccccc"
FORGED = "forged-SECRET-ddddddddddddddddddddddddddddd"




def request(port: int, method: str, path: str, body: bytes | None = None,
            headers: dict | None = None) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def test_no_token_reaches_the_servers_output(tmp_path):
    data = tmp_path / "data"
    store = Store(f"sqlite:///{data / 'nps_tv.db'}")
    store.upgrade()
    _, link = ShareLinks(store).create("Lobby TV", "wall")
    store.dispose()
    proc, port = start_serve(tmp_path, DATA_DIR=str(data), ACCESS="links", ACCESS_LOG="1",
                             WORKERS="1", THREADS="4", INGEST_TOKEN=INGEST,
                             DELIGHTED_TOKEN=DELIGHTED, ADMIN_TOKEN=ADMIN)
    log = tmp_path / "serve.log"
    try:
        delivery = b'{"event_type": "survey_response.created", "event_data": {}}'
        json_type = {"Content-Type": "application/json"}
        statuses = [
            request(port, "POST", f"/api/v1/webhooks/delighted?token={DELIGHTED}", delivery,
                    json_type),
            request(port, "POST", f"/api/v1/webhooks/delighted?token={FORGED}", delivery,
                    json_type),
            request(port, "POST", f"/api/v1/webhooks/wootric?token={INGEST}&x=1", b"{}",
                    json_type),
            request(port, "GET", f"/s/{link}"),
            request(port, "GET", f"/s/{FORGED}"),
            request(port, "GET", "/tv", headers={"Cookie": f"nps_tv_link={link}"}),
            request(port, "GET", "/tv", headers={"Cookie": f"nps_tv_link={FORGED}"}),
            request(port, "GET", "/api/v1/summary", headers={"Authorization": f"Bearer {ADMIN}"}),
            request(port, "GET", "/api/v1/summary",
                    headers={"Authorization": f"Bearer {FORGED}"}),
            request(port, "GET", f"/tv?token={FORGED}"),
        ]
        assert statuses[3] == 303 and statuses[4] == 403 and statuses[5] == 200
        assert statuses[7] == 200 and statuses[8] == 403
    finally:
        stop(proc)
    output = log.read_text(errors="replace")
    assert "/s/(redacted)" in output  # the access log was on and saw the visits
    assert "token=(redacted)" in output
    for secret in (link, INGEST, DELIGHTED, ADMIN, FORGED, "SECRET"):
        assert secret not in output, f"{secret[:12]}... found in the server's output"
