"""docs/deploy/nginx-tls.conf as shipped (ports, certificate and log path changed) in front of a
real ``nps-tv serve`` in links mode: TLS, the http->https redirect, the public name allowed and
a foreign one refused, the share-link cookie Secure behind the proxy, and no token in nginx's
access log."""

from __future__ import annotations

import http.client
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from app.store import Store
from app.store.links import ShareLinks
from tests.conftest import free_port, write_nginx_main
from tests.servers import find_nginx, start_nginx, start_serve, stop, wait_until_listening

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "docs" / "deploy" / "nginx-tls.conf"
NAME = "nps.example.com"


def render(prefix: Path, http_port: int, https_port: int, upstream: int) -> Path:
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", str(prefix / "key.pem"), "-out", str(prefix / "cert.pem"),
                    "-subj", f"/CN={NAME}"], check=True, capture_output=True)
    site = SITE.read_text()
    for old, new in (("listen 80;", f"listen 127.0.0.1:{http_port};"),
                     ("listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;"),
                     ("server 127.0.0.1:8050;", f"server 127.0.0.1:{upstream};"),
                     (f"/etc/letsencrypt/live/{NAME}/fullchain.pem", str(prefix / "cert.pem")),
                     (f"/etc/letsencrypt/live/{NAME}/privkey.pem", str(prefix / "key.pem")),
                     ("/var/log/nginx/nps-tv.access.log", str(prefix / "access.log"))):
        assert old in site, f"{SITE} no longer contains {old!r}: update this test"
        site = site.replace(old, new)
    (prefix / "site.conf").write_text(site)
    return write_nginx_main(prefix, prefix / "site.conf", connections=256)


def fetch(port: int, path: str, host: str = NAME, tls: bool = True,
          headers: dict | None = None) -> http.client.HTTPResponse:
    if tls:
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=context)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers={"Host": host, **(headers or {})})
    response = conn.getresponse()
    response.body = response.read()
    conn.close()
    return response


@pytest.fixture
def served(tmp_path) -> tuple[int, int, str]:
    find_nginx()  # fails or skips with the reason before anything starts
    store = Store(f"sqlite:///{tmp_path / 'data' / 'nps_tv.db'}")
    store.upgrade()
    _, token = ShareLinks(store).create("Lobby TV", "wall")
    store.dispose()
    http_port, https_port = free_port(), free_port()
    serve, upstream = start_serve(tmp_path, wait=False, PROXY_HOPS="1",
                                  PUBLIC_URL=f"https://{NAME}", WORKERS="1", THREADS="4")
    proxy = start_nginx(tmp_path, render(tmp_path, http_port, https_port, upstream), https_port,
                        wait=False)
    try:
        wait_until_listening(upstream, serve, tmp_path / "serve.log", "nps-tv serve")
        deadline = time.monotonic() + 30
        while True:
            try:
                fetch(https_port, "/health")
                break
            except OSError:
                assert proxy.poll() is None and time.monotonic() < deadline, (
                    (tmp_path / "error.log").read_text(errors="replace"))
                time.sleep(0.2)
        yield http_port, https_port, token
    finally:
        stop(proxy)
        stop(serve)
    log = (tmp_path / "access.log").read_text()
    assert "/s/(redacted)" in log and token not in log


def test_nginx_tls_config_in_front_of_a_links_mode_server(served):
    http_port, https_port, token = served
    health = fetch(https_port, "/health")
    assert health.status == 200 and b'"access":"links"' in health.body.replace(b" ", b"")
    plain = fetch(http_port, "/tv", tls=False)
    assert plain.status == 308 and plain.getheader("Location") == f"https://{NAME}/tv"
    assert fetch(https_port, "/tv").status == 401  # links by default behind a proxy
    assert fetch(https_port, "/tv", host="evil.example").status == 400  # DNS rebinding
    door = fetch(https_port, f"/s/{token}")
    assert door.status == 303
    cookie = door.getheader("Set-Cookie")
    assert "Secure" in cookie and "HttpOnly" in cookie  # https seen through X-Forwarded-Proto
    assert door.getheader("Strict-Transport-Security") == "max-age=31536000"
    wall = fetch(https_port, "/tv", headers={"Cookie": cookie.split(";")[0]})
    assert wall.status == 200 and b"_dash-renderer" in wall.body
