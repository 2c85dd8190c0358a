"""Store faults against a real local server: the database unreachable, full or read-only, and
locked for 40 s, while a wall polls, /health is watched and clients post.

Ingest must answer a JSON 503 with Retry-After (one log line, no traceback), /health must say
503, the wall and /health must keep answering within a second, and after recovery exactly the
acknowledged writes are stored (a retry with the same Idempotency-Key adds no duplicate).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import make_url, text
from werkzeug.serving import make_server

from app.cli import EXIT_STORE_UNAVAILABLE, main
from app.services import get_services
from app.web import create_app, start_jobs, stop_jobs
from tests.conftest import POSTGRES_URL
from tests.faults import (
    ADMIN,
    TOKEN,
    Live,
    TcpProxy,
    Traffic,
    figures,
    free_port,
    hold_lock,
    post_batch,
    request,
    stored_markers,
    wait_for,
    wall_body,
)

FAST = 1.0  # seconds: the wall and /health answer within this, whatever the store does


@pytest.fixture
def live(settings, store, tmp_path) -> Iterator[Callable[..., Live]]:
    """Start a polling app on the store under test (PostgreSQL through a TcpProxy)."""
    started: list[tuple] = []

    def start(**changes) -> Live:
        proxy, data_dir = None, tmp_path / "db"
        if store.dialect == "postgresql":
            direct = make_url(POSTGRES_URL)
            proxy = TcpProxy((direct.host or "127.0.0.1", direct.port or 5432))
            db_url = direct.set(host="127.0.0.1", port=proxy.port).render_as_string(
                hide_password=False)
        else:
            data_dir.mkdir()
            db_url = f"sqlite:///{data_dir / 'nps_tv.db'}"
        configured = settings.replace(database_url=db_url, ingest_token=TOKEN, admin_token=ADMIN,
                                      **changes)
        dash_app = create_app(configured)
        start_jobs(dash_app)
        server = make_server("127.0.0.1", free_port(), dash_app.server, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        started.append((dash_app, server, thread, proxy))
        return Live(f"http://127.0.0.1:{server.server_port}", dash_app, db_url, proxy, data_dir)

    yield start
    for dash_app, server, thread, proxy in started:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        stop_jobs(dash_app)
        get_services(dash_app).store.dispose()
        if proxy is not None:
            proxy.cut()



def run_fault(live_app: Live, fault, seconds: float, caplog, in_doubt: int = 0) -> Traffic:
    """Drive traffic through ``fault`` held for ``seconds``, recover, check what every test
    checks, and return the traffic for the test's own figures.

    ``in_doubt``: how many refused batches may have committed anyway (a connection cut after
    the server committed but before the client heard); the retry must not duplicate them.
    """
    traffic = Traffic(live_app.url)
    time.sleep(1.5)  # some writes acknowledged before the fault
    with caplog.at_level(logging.INFO), fault:
        fault_started = time.monotonic()
        time.sleep(seconds)
    recovered = time.monotonic()
    assert wait_for(lambda: request(f"{live_app.url}/health")[0] == 200), "no recovery"
    time.sleep(1.0)
    traffic.finish()

    walls = [seconds for _, seconds, _ in traffic.wall]
    assert all(status == 200 for status, _, _ in traffic.wall), traffic.wall
    assert max(walls) < FAST, f"wall poll took {max(walls):.2f} s"
    assert any(error for *_, error in traffic.wall)  # the wall's status names the trouble
    assert traffic.wall[-1][2] is None  # and clears once the store recovers
    healths = [h for h in traffic.health if fault_started <= h[0] <= recovered]
    assert max(h[3] for h in traffic.health) < FAST
    failing = [h for h in healths if h[1] == 503]
    assert failing and all(h[2]["error"] and h[2]["problems"] for h in failing)

    refused = traffic.refused()
    assert refused, "no write failed during the fault"
    for _, _, status, headers, body in refused:
        assert status == 503
        assert headers["Content-Type"] == "application/json"
        assert int(headers["Retry-After"]) >= 1
        reply = json.loads(body)
        assert reply["error"] == "store unavailable"
        assert "Traceback" not in reply["detail"] and "SQL" not in reply["detail"]
    lines = [r for r in caplog.records if r.name == "app.api"]
    assert len(lines) == len(refused)  # one line per failed request
    assert not [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
    assert all("\n" not in r.getMessage() for r in caplog.records if r.name.startswith("app"))

    stored = stored_markers(live_app.store)
    assert len(stored) == len(set(stored))
    acked = traffic.acked()
    assert acked <= set(stored)  # every acknowledged write...
    doubtful = [markers for _, markers, *_ in refused if set(markers) & set(stored)]
    assert len(doubtful) <= in_doubt, doubtful  # ...and nothing else, but what a cut left
    assert all(set(markers) <= set(stored) for markers in doubtful)  # all or nothing
    assert set(stored) == acked.union(*doubtful)
    for key, markers, *_ in refused:  # the client's retry, with the same key
        assert post_batch(live_app.url, key, markers)[0] in (200, 201)
    stored = stored_markers(live_app.store)
    assert sorted(stored) == sorted({m for _, markers, *_ in traffic.posts for m in markers})
    return traffic


# -- the tests -----------------------------------------------------------------------------------

def test_unreachable_store_answers_503_keeps_the_wall_and_loses_nothing(live, caplog):
    live_app = live(write_timeout_seconds=1.0)
    # A cut can fall between a commit and its answer on PostgreSQL: that batch is retried.
    in_doubt = live_app.store.writes.concurrency if live_app.proxy else 0
    print(figures(run_fault(live_app, live_app.unreachable(), 4, caplog, in_doubt)))


def test_read_only_store_answers_503_keeps_the_wall_and_loses_nothing(live, caplog):
    live_app = live(write_timeout_seconds=1.0)
    print(figures(run_fault(live_app, live_app.refusing_writes("read-only"), 4, caplog)))


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_full_sqlite_file_answers_503_keeps_the_wall_and_loses_nothing(live, caplog):
    live_app = live(write_timeout_seconds=1.0)
    print(figures(run_fault(live_app, live_app.refusing_writes("full"), 4, caplog)))


def test_store_locked_for_40_s_never_stalls_the_wall_or_health(live, caplog):
    """The issue's case: writes wait at most write_timeout_seconds (default 5 s), then 503."""
    live_app = live()
    traffic = run_fault(live_app, live_app.locked(), 40, caplog)
    print(figures(traffic))
    waits = [time for *_, time in traffic.health]
    assert len(waits) > 100  # /health was asked all along, not once before a stall


def test_waiting_writes_are_bounded_in_number_and_time(live):
    live_app = live(write_concurrency=2, write_timeout_seconds=1.0)
    replies: list[tuple[int, dict, bytes, float]] = []

    def one(n: int) -> None:
        replies.append(post_batch(live_app.url, f"bound-{n}", [f"b{n}"]))

    with live_app.locked():
        threads = [threading.Thread(target=one, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        wall = request(f"{live_app.url}/_dash-update-component", wall_body(None),
                       {"Content-Type": "application/json"})
        for thread in threads:
            thread.join(timeout=60)
    assert wall[0] == 200 and wall[3] < FAST
    assert [r[0] for r in replies] == [503] * 8
    assert max(r[3] for r in replies) < 3.0  # one write timeout and change, not 30 s each
    errors = {json.loads(r[2])["detail"].split("(")[1].split(")")[0] for r in replies}
    assert "WriteTimeout" in errors  # writes beyond the slots waited their turn, then gave up
    assert stored_markers(live_app.store) == []


def test_every_write_path_answers_json_503_with_one_log_line(live, caplog):
    from tests.test_ingest_webhooks import deliver

    live_app = live(write_timeout_seconds=1.0)
    auth = {"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"}
    status, _, body, _ = request(f"{live_app.url}/api/v1/events",
                                 json.dumps({"label": "v2 released"}).encode(), auth)
    event_id = json.loads(body)["id"]
    calls = [("/api/v1/responses", json.dumps({"score": 9}).encode(), "application/json",
              TOKEN, "POST"),
             ("/api/v1/events", json.dumps({"label": "launch"}).encode(), "application/json",
              ADMIN, "POST"),
             (f"/api/v1/events/{event_id}", None, None, ADMIN, "DELETE")]
    for vendor in ("delighted", "wootric", "typeform", "asknicely"):
        payload, content_type = deliver(vendor)
        calls.append((f"/api/v1/webhooks/{vendor}?token={TOKEN}", payload, content_type, TOKEN,
                      "POST"))
    with caplog.at_level(logging.INFO), live_app.refusing_writes("read-only"):
        for path, payload, content_type, token, method in calls:
            headers = {"Authorization": f"Bearer {token}"}
            if content_type:
                headers["Content-Type"] = content_type
            status, headers, body, _ = request(live_app.url + path, payload, headers, method)
            assert status == 503, (path, body)
            assert headers["Content-Type"] == "application/json" and headers["Retry-After"] == "1"
            reply = json.loads(body)
            assert reply["error"] == "store unavailable"
            assert "read-only" not in reply["detail"] and "readonly" not in reply["detail"]
        health_status, _, health, _ = request(f"{live_app.url}/health")
    lines = [r for r in caplog.records if r.name == "app.api"]
    assert len(lines) == len(calls)
    assert all(r.exc_info is None and "\n" not in r.getMessage() for r in caplog.records)
    assert health_status == 503
    error = json.loads(health)["error"]
    assert error in ("OperationalError", "ReadOnlySqlTransaction")
    assert f"the last {len(calls)} writes failed" in json.loads(health)["problems"]
    assert get_services(live_app.dash_app).store.list_events()[0].id == event_id


def test_cli_says_one_line_and_exits_non_zero_when_the_store_is_locked(live, monkeypatch,
                                                                       capsys):
    live_app = live()
    monkeypatch.setenv("NPS_TV_DATABASE_URL", live_app.db_url)
    monkeypatch.setenv("NPS_TV_WRITE_TIMEOUT_SECONDS", "0.5")
    with live_app.locked("events"):
        assert main(["event", "add", "v2.3 released"]) == EXIT_STORE_UNAVAILABLE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "the store is unavailable" in err
    assert "Traceback" not in err
    assert main(["event", "list"]) == 0
    assert "v2.3 released" not in capsys.readouterr().out


def test_health_is_503_when_the_snapshot_is_too_old(settings):
    dash_app = create_app(settings.replace(health_max_age_seconds=0.3))
    client = dash_app.server.test_client()
    get_services(dash_app).poller.poll()
    assert client.get("/health").status_code == 200
    time.sleep(0.5)
    reply = client.get("/health")
    assert reply.status_code == 503
    assert reply.json["error"] == "Stale" and "no good poll" in reply.json["problems"][0]


def test_health_is_503_after_n_failed_polls_with_the_error_class(settings):
    dash_app = create_app(settings.replace(health_failures=2))
    services = get_services(dash_app)
    client = dash_app.server.test_client()
    services.poller.poll()
    with services.store.engine.begin() as conn:
        conn.execute(text("ALTER TABLE responses RENAME TO gone"))
    services.poller.poll()
    assert client.get("/health").status_code == 200  # one failure is a blip
    services.poller.poll()
    reply = client.get("/health")
    assert reply.status_code == 503
    assert reply.json["error"] == "OperationalError"
    assert reply.json["problems"] == ["the last 2 polls failed"]


def test_idempotency_key_makes_a_committed_batch_safe_to_retry(settings, store, monkeypatch):
    """The commit went through, the client saw a 503: its retry must not store a duplicate."""
    from app.store import StoreUnavailable

    dash_app = create_app(settings.replace(database_url=store.url, ingest_token=TOKEN))
    services = get_services(dash_app)
    client = dash_app.server.test_client()
    real = services.store.upsert_responses

    def commit_then_fail(records, now=None):
        real(records, now)
        raise StoreUnavailable("OperationalError", "server closed the connection unexpectedly")

    items = [{"score": s, "comment": f"c{s}"} for s in (3, 9, 10)]
    headers = {"Authorization": f"Bearer {TOKEN}", "Idempotency-Key": "batch-7f3a"}
    monkeypatch.setattr(services.store, "upsert_responses", commit_then_fail)
    assert client.post("/api/v1/responses", json=items, headers=headers).status_code == 503
    monkeypatch.setattr(services.store, "upsert_responses", real)
    retry = client.post("/api/v1/responses", json=items, headers=headers)
    assert retry.status_code == 200 and retry.json["unchanged"] == 3, retry.json
    assert store.count_responses() == 3
    other = client.post("/api/v1/responses", json=items,
                        headers={**headers, "Idempotency-Key": "batch-8b1c"})
    assert other.json["inserted"] == 3 and store.count_responses() == 6
    bad = client.post("/api/v1/responses", json=items, headers={**headers,
                                                                "Idempotency-Key": "a b"})
    assert bad.status_code == 400 and store.count_responses() == 6


def test_health_forgets_failed_writes_once_they_are_old(settings):
    """After an outage nobody may write for hours; /health must not stay 503 for that."""
    dash_app = create_app(settings.replace(ingest_token=TOKEN, health_failures=2,
                                           health_max_age_seconds=1.0, write_timeout_seconds=0.1))
    services = get_services(dash_app)
    client = dash_app.server.test_client()
    services.poller.poll()
    locker = sqlite3.connect(services.store.url.removeprefix("sqlite:///"), isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert [client.post("/api/v1/responses", json={"score": 9}, headers=auth).status_code
            for _ in range(2)] == [503, 503]
    locker.execute("ROLLBACK")
    locker.close()
    reply = client.get("/health")
    assert reply.status_code == 503 and reply.json["problems"] == ["the last 2 writes failed"]
    assert reply.json["error"] == "OperationalError"
    time.sleep(1.1)
    services.poller.poll()
    assert client.get("/health").status_code == 200


def test_under_gunicorn_waiting_writes_never_take_every_thread(store, tmp_path):
    """The documented deployment (gthread, 8 threads): 16 clients post into a locked store."""
    port = free_port()
    db_url = store.url if store.dialect == "postgresql" else f"sqlite:///{tmp_path}/nps_tv.db"
    env = {**os.environ, "NPS_TV_DATABASE_URL": db_url, "NPS_TV_INGEST_TOKEN": TOKEN,
           "NPS_TV_PORT": str(port), "NPS_TV_WORKERS": "1", "NPS_TV_DATA_DIR": str(tmp_path)}
    server = subprocess.Popen([sys.executable, "-m", "app", "serve"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        assert wait_for(lambda: _answers(f"{base}/health"), 60), "gunicorn did not start"
        traffic = Traffic(base, clients=16, batch=1)
        time.sleep(1.0)
        with hold_lock(db_url):
            started = time.monotonic()
            time.sleep(10)
            ended = time.monotonic()
        time.sleep(2.0)
        traffic.finish()
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(figures(traffic))
    during = [seconds for at, seconds in traffic.wall_times if started <= at <= ended]
    assert len(during) > 20 and max(during) < FAST
    assert max(h[3] for h in traffic.health) < FAST
    assert 503 in {h[1] for h in traffic.health if started <= h[0] <= ended}
    assert {post[2] for post in traffic.posts} <= {200, 201, 503}


def _answers(url: str) -> bool:
    try:
        return request(url, timeout=2)[0] == 200
    except OSError:
        return False
