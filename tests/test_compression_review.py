"""Review of the compressed answers (app/compression.py): what a hostile or odd client can make
the server do. A HEAD, a cold start with many requests at once, or a header that refuses gzip
beside a wildcard must not make the server compress a bundle again or send what was refused;
the kept gzip starts stay within a byte budget; gzip_join is right at its edges and across
threads."""

from __future__ import annotations

import gc
import gzip
import http.client
import json
import threading
import time
import tracemalloc
import types
import zlib
from concurrent.futures import ThreadPoolExecutor

import pytest

from app import compression
from tests.conftest import seeded_app, wall_poll_body
from tests.test_compression import BROWSER, decoded, front_end_files
from tests.test_poll_answer import UPDATE

BUNDLE = "/_dash-component-suites/plotly/package_data/plotly.min.js"  # the largest, ~4.6 MB


@pytest.fixture
def wall_app(make_app, sqlite_store):
    return seeded_app(make_app, sqlite_store)


# -- a hostile client and the kept static files ---------------------------------------------

def test_a_head_does_not_make_the_server_compress_a_bundle_again(wall_app, compressions):
    """HEAD runs the GET view, so Flask-Compress compresses the whole body; without a key it
    was compressed again on every HEAD (~0.2 s of CPU for the plotly bundle, in gzip)."""
    client = wall_app.server.test_client()
    headers = {"Accept-Encoding": "gzip"}
    got = client.get(BUNDLE, headers=headers)
    for _ in range(4):
        head = client.head(BUNDLE, headers=headers)
        assert head.status_code == 200 and head.get_data() == b""
        assert head.headers["Content-Length"] == got.headers["Content-Length"]
    assert len(compressions) == 1, compressions


def test_a_head_of_an_asset_says_what_its_get_says(wall_app):
    client = wall_app.server.test_client()
    path = next(p for p in front_end_files(client) if p.startswith("/assets/"))
    headers = {"Accept-Encoding": "gzip"}
    got, head = client.get(path, headers=headers), client.head(path, headers=headers)
    for name in ("Content-Encoding", "Content-Length", "ETag"):
        assert head.headers.get(name) == got.headers.get(name), name


def test_many_first_requests_at_once_compress_a_bundle_once(wall_app, compressions):
    """A fleet opening together after a start: the requests that miss the cache together
    each compressed the bundle (up to the worker's threads, ~0.1 s each)."""
    clients = [wall_app.server.test_client() for _ in range(6)]
    clients[0].get("/health")  # as web.warm_up does: Dash registers its bundles on the first
    gate = threading.Barrier(len(clients))

    def fetch(client):
        gate.wait()
        return client.get(BUNDLE, headers={"Accept-Encoding": "br"})

    with ThreadPoolExecutor(len(clients)) as pool:
        replies = list(pool.map(fetch, clients))
    assert len({r.get_data() for r in replies}) == 1
    assert len(compressions) == 1, compressions


@pytest.mark.parametrize("header", ["gzip;q=0, *", "*;q=0.5, gzip;q=0", "GZIP;Q=0, *"])
def test_a_refused_gzip_is_never_sent(wall_app, header):
    """Flask-Compress 1.25 picks gzip for "gzip;q=0, *" (its q=0 is a quality like another);
    the hook let it through because zstd had a quality above 0 through the "*"."""
    client = wall_app.server.test_client()
    headers = {"Accept-Encoding": header}
    replies = {
        "bundle": client.get(BUNDLE, headers=headers),
        "layout": client.get("/_dash-layout", headers=headers),
        "poll": client.post(UPDATE, json=wall_poll_body({"query": {}}, None), headers=headers),
    }
    for name, reply in replies.items():
        assert reply.status_code == 200, name
        assert reply.headers.get("Content-Encoding") != "gzip", name
        decoded(reply)  # whatever it is, it reads


def test_the_walls_poll_is_not_compressed_per_request_for_a_client_without_gzip(
        wall_app, compressions):
    """The poll's fast path gzips from a start compressed once (~16 us an answer); a client
    taking br but not gzip had Flask-Compress compress the whole ~75 KB answer each time
    (~1.5 ms in br): the fast path's answer is final."""
    client = wall_app.server.test_client()
    body = wall_poll_body({"query": {}}, None)
    for _ in range(3):
        reply = client.post(UPDATE, json=body, headers={"Accept-Encoding": "br"})
        assert reply.status_code == 200 and reply.headers.get("Content-Encoding") is None
        assert "Accept-Encoding" in reply.headers["Vary"]
    assert compressions == []


# -- the kept gzip starts --------------------------------------------------------------------

def test_the_kept_gzip_starts_stay_within_a_byte_budget():
    """gzip_start kept 256 starts whatever their size, each holding its key (the whole
    uncompressed start) alive after the AnswerBook (16 MB) let it go: 256 distinct 200 KB
    starts held ~50 MB."""
    compression.clear_starts()
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for i in range(256):
            start = (b'{"multi":true,"response":{' + b'"tv-%d-part":{"children":"%d"},' % (i, i)
                     * 6000)[:200_000]
            compression.gzip_join(start, b'"tv-status":{}}}')
            del start
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
        compression.clear_starts()
    assert held <= compression.START_CACHE_BYTES + 2**20, held


def test_a_start_is_compressed_once_when_many_threads_want_it_at_once(monkeypatch):
    """1,000 screens poll within a second of a change: the threads that miss a new start
    together each compressed it (~4 ms for 75 KB); they wait for the first one's now."""
    compression.clear_starts()

    def slow_compressobj(level, *args):  # the start's compression takes its time
        if level == compression.LEVEL:
            time.sleep(0.02)
        return zlib.compressobj(level, *args)

    monkeypatch.setattr(compression, "zlib", types.SimpleNamespace(
        compressobj=slow_compressobj, crc32=zlib.crc32, DEFLATED=zlib.DEFLATED,
        MAX_WBITS=zlib.MAX_WBITS, Z_SYNC_FLUSH=zlib.Z_SYNC_FLUSH))
    start = b'{"multi":true,"response":{' + b'"tv-score-body":{"children":"7"},' * 4000
    gate = threading.Barrier(8)

    def join(i):
        gate.wait()
        return compression.gzip_join(start, b'"tv-status":{"n":%d}}}' % i)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(join, range(200)))
    for i, answer in enumerate(answers):
        assert gzip.decompress(answer) == start + b'"tv-status":{"n":%d}}}' % i
    assert compression.start_stats()["misses"] == 1


# -- gzip_join at its edges -------------------------------------------------------------------

@pytest.mark.parametrize(("start", "own"), [
    (b"", b""), (b"", b"own only"), (b"start only", b""), (b"\x00" * 70_000, b"\xff"),
    (bytes(range(256)) * 300, bytes(range(256))[::-1] * 3),
])
def test_gzip_join_at_its_edges(start, own):
    joined = compression.gzip_join(start, own)
    assert gzip.decompress(joined) == start + own  # CRC-32 and ISIZE checked
    assert zlib.decompress(joined, 31) == start + own
    inflate = zlib.decompressobj(31)
    assert inflate.decompress(joined) == start + own and inflate.eof and not inflate.unused_data


# -- behind nginx: the shipped site config keeps the choice of what is compressed ------------

GZIP_MAIN = """    gzip on;  # as Debian's nginx.conf, with its commented gzip lines turned on
    gzip_proxied any;
    gzip_types text/plain text/css application/json application/javascript text/xml
               application/xml text/javascript text/event-stream;
"""


def test_behind_an_nginx_that_gzips_the_api_and_pages_go_as_they_are(tmp_path):
    """Debian's nginx.conf says ``gzip on`` (text/html), and its commented lines add JSON:
    nginx then gzipped the pages and the API the app leaves alone (BREACH: tokens beside
    reflected input). The shipped site says ``gzip off``; the front end's answers still go
    compressed once (by the app: nginx leaves an encoded answer alone)."""
    from tests.conftest import free_port
    from tests.servers import start_nginx, start_serve, stop
    from tests.test_front_door import render_nginx_conf

    proc, upstream = start_serve(tmp_path, ACCESS="open")
    nginx = None
    try:
        port = free_port()
        main = render_nginx_conf(tmp_path, port, upstream)
        text = main.read_text()
        main.write_text(text.replace("http {\n", "http {\n" + GZIP_MAIN, 1))
        nginx = start_nginx(tmp_path, main, port)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

        def get(path: str, method: str = "GET") -> tuple[http.client.HTTPResponse, bytes]:
            conn.request(method, path, headers={"Accept-Encoding": BROWSER, "Host": "127.0.0.1"})
            reply = conn.getresponse()
            return reply, reply.read()

        for path in ("/tv", "/manager", "/api/v1/nps", "/api/v1/tick", "/health"):
            reply, body = get(path)
            assert reply.status == 200, (path, body[:200])
            assert reply.getheader("Content-Encoding") is None, path
        # The wall's first poll (whole parts) through nginx and gunicorn: gzipped once.
        conn.request("POST", UPDATE, body=json.dumps(wall_poll_body({"query": {}}, None)),
                     headers={"Accept-Encoding": BROWSER, "Host": "127.0.0.1",
                              "Content-Type": "application/json"})
        reply = conn.getresponse()
        body = reply.read()
        assert reply.status == 200 and reply.getheader("Content-Encoding") == "gzip", body[:200]
        assert int(reply.getheader("Content-Length")) == len(body)
        assert "tv-status" in json.loads(gzip.decompress(body))["response"]
        reply, body = get(BUNDLE)
        assert reply.getheader("Content-Encoding") in ("zstd", "br", "gzip")
        plain = decoded_raw(reply.getheader("Content-Encoding"), body)
        assert plain.startswith(b"/*") or b"plotly" in plain[:2000]  # decoded once: the script
    finally:
        if nginx is not None:
            stop(nginx)
        stop(proc)


def decoded_raw(coding: str, body: bytes) -> bytes:
    import brotli
    from backports import zstd
    return {"gzip": gzip.decompress, "br": brotli.decompress, "zstd": zstd.decompress}[coding](
        body)
