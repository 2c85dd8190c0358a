"""Compressed answers (app/compression.py): the Dash front end's scripts, styles and answers
go compressed to a browser that asks, static files are compressed once, the wall's poll is
gzipped from a start compressed once per place, and pages, the API and the stream are not."""

from __future__ import annotations

import gzip
import json
import random
import re
import zlib

import brotli
import pytest
from backports import zstd

from app import compression, tv
from tests.conftest import seeded_app, wall_poll_body
from tests.test_poll_answer import UPDATE, state_of, through_dash, write

BROWSER = "gzip, deflate, br, zstd"  # what Chromium sends


def decoded(reply) -> bytes:
    body = reply.get_data()
    coding = reply.headers.get("Content-Encoding")
    if coding is None:
        return body
    return {"gzip": gzip.decompress, "br": brotli.decompress,
            "zstd": zstd.decompress, "deflate": zlib.decompress}[coding](body)


@pytest.fixture
def wall_app(make_app, sqlite_store):
    return seeded_app(make_app, sqlite_store)


# -- gzip_join: a shared start compressed once, the rest per answer ------------------------

@pytest.mark.parametrize("seed", range(5))
def test_a_joined_gzip_is_the_start_and_the_rest(seed):
    rng = random.Random(seed)
    words = [rng.choice(["score", "comment", "Ledger", '"tv-"', "{", "}", ",", "9"])
             for _ in range(rng.randrange(0, 30000))]
    start = "".join(words).encode()
    own = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 900)))
    joined = compression.gzip_join(start, own)
    assert gzip.decompress(joined) == start + own  # checks the CRC and the length too
    assert zlib.decompress(joined, 31) == start + own


@pytest.mark.parametrize("own_size", [0, 1, 0xFFFF, 0x10000, 3 * 0xFFFF + 7])
def test_the_rest_goes_in_stored_blocks_of_any_length(own_size):
    start = b'{"multi":true,"response":{' + b'"x":1,' * 500
    own = bytes(i % 251 for i in range(own_size))
    joined = compression.gzip_join(start, own)
    assert gzip.decompress(joined) == start + own
    head, _crc, _size = compression.gzip_start(start)
    assert len(joined) - len(head) - 8 == own_size + 5 * max(1, -(-own_size // 0xFFFF))


def test_the_start_is_compressed_once_and_the_rest_each_time():
    compression.clear_starts()
    start = b'{"multi":true,"response":{' + b'"tv-score-body":{"children":"42"},' * 2000
    answers = [compression.gzip_join(start, f'"tv-status":{{"data":{i}}}}}}}'.encode())
               for i in range(20)]
    stats = compression.start_stats()
    assert (stats["misses"], stats["hits"]) == (1, 19)
    assert len({gzip.decompress(a) for a in answers}) == 20
    assert max(len(a) for a in answers) < len(start) / 20


# -- the wall's poll ------------------------------------------------------------------------

def test_the_walls_poll_is_gzipped_for_a_browser_and_says_the_same(wall_app):
    client = wall_app.server.test_client()
    body = wall_poll_body({"query": {}}, None)  # a first poll: every part whole
    plain = client.post(UPDATE, json=body)
    zipped = client.post(UPDATE, json=body, headers={"Accept-Encoding": BROWSER})
    assert plain.headers.get("Content-Encoding") is None
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped.headers["Vary"]
    assert int(zipped.headers["Content-Length"]) == len(zipped.get_data())
    first, second = (json.loads(decoded(r)) for r in (plain, zipped))
    for answer in (first, second):
        answer["response"][tv.IDS.status]["data"].pop("age")
    assert first == second and len(first["response"]) > 3
    assert len(zipped.get_data()) * 3 < len(plain.get_data())  # whole parts: ~75 KB -> ~10 KB


def test_a_patch_after_a_change_is_gzipped_too_and_the_status_alone_is_not(wall_app):
    client = wall_app.server.test_client()
    headers = {"Accept-Encoding": "gzip"}
    state = state_of(json.loads(decoded(client.post(
        UPDATE, json=wall_poll_body({"query": {}}, None), headers=headers))))
    quiet = client.post(UPDATE, json=wall_poll_body({"query": {}}, state), headers=headers)
    assert quiet.headers.get("Content-Encoding") is None  # a few hundred bytes: as it is
    assert list(json.loads(quiet.get_data())["response"]) == [tv.IDS.status]
    write(wall_app, 1, comment="A gzipped compliment")
    changed = client.post(UPDATE, json=wall_poll_body({"query": {}}, state), headers=headers)
    text = decoded(changed).decode()
    assert "A gzipped compliment" in text and "__dash_patch_update" in text
    if len(text) >= compression.MIN_BYTES:
        assert changed.headers["Content-Encoding"] == "gzip"


def test_a_client_that_refuses_gzip_gets_the_answer_as_it_is(wall_app):
    client = wall_app.server.test_client()
    body = wall_poll_body({"query": {}}, None)
    for refusal in ("identity", "gzip;q=0", ""):
        reply = client.post(UPDATE, json=body, headers={"Accept-Encoding": refusal})
        assert reply.headers.get("Content-Encoding") is None
        assert tv.IDS.state in json.loads(reply.get_data())["response"]


def test_callback_answers_are_compressed_each_and_never_served_from_the_cache(
        wall_app, compressions):
    """Through Dash's own dispatch (Flask-Compress): two polls to one path with different
    answers each get their own; a POST is never kept."""
    client = wall_app.server.test_client()
    headers = {"Accept-Encoding": "zstd, gzip"}
    with through_dash(wall_app):
        whole = client.post(UPDATE, json=wall_poll_body({"query": {}}, None), headers=headers)
        state = state_of(json.loads(decoded(whole)))
        write(wall_app, 2, comment="Only in the second answer")
        patch = client.post(UPDATE, json=wall_poll_body({"query": {}}, state),
                            headers=headers)
    assert whole.headers["Content-Encoding"] == patch.headers["Content-Encoding"] == "zstd"
    assert "Only in the second answer" in decoded(patch).decode()
    assert "Only in the second answer" not in decoded(whole).decode()
    assert [algorithm for algorithm, _ in compressions] == ["zstd", "zstd"]


# -- the front end's files and what is left alone -------------------------------------------

def front_end_files(client) -> list[str]:
    page = client.get("/tv").get_data(as_text=True)
    found = re.findall(r'src="(/_dash-component-suites/[^"]+)"', page)
    found += re.findall(r'href="(/assets/[^"]+\.css[^"]*)"', page)
    assert len(found) >= 5, page[:2000]
    return found


@pytest.mark.parametrize("algorithm", ["br", "gzip", "zstd"])
def test_static_files_go_compressed_and_are_compressed_once(wall_app, compressions, algorithm):
    client = wall_app.server.test_client()
    files = front_end_files(client)
    for path in files:
        plain = client.get(path)
        assert plain.status_code == 200 and plain.headers.get("Content-Encoding") is None
        for _ in range(3):
            packed = client.get(path, headers={"Accept-Encoding": algorithm})
            assert packed.headers["Content-Encoding"] == algorithm, path
            assert decoded(packed) == plain.get_data(), path
    big = [p for p in files if len(client.get(p).get_data()) >= compression.MIN_BYTES]
    assert sorted(n for a, n in compressions if a == algorithm) == sorted(
        len(client.get(p).get_data()) for p in big)  # once each, not three times


def test_made_up_versions_and_queries_do_not_make_the_server_compress_again(
        wall_app, compressions):
    """Dash serves a bundle under any version in its path: kept by content, a made-up one
    (or a query) finds the bundle compressed."""
    client = wall_app.server.test_client()
    bundle = next(p for p in front_end_files(client) if "react-dom" in p)
    made_up = re.sub(r"\.v[0-9_]+m[0-9]+\.", ".v9_9_9m1.", bundle)
    assert made_up != bundle
    headers = {"Accept-Encoding": "br"}
    first = client.get(bundle, headers=headers)
    for i, path in enumerate([made_up, bundle + "?x=1", made_up + "?y=2"] * 5):
        again = client.get(path, headers=headers)
        assert again.status_code == 200 and again.get_data() == first.get_data(), (i, path)
    assert len(compressions) == 1


def test_the_cache_keeps_each_algorithm_apart_and_stays_within_its_bytes():
    cache = compression.StaticCache(max_bytes=100)
    cache.set("br;digest-1", b"x" * 40)
    cache.set("br;digest-2", b"y" * 40)
    assert cache.get("br;digest-1") == b"x" * 40
    assert cache.get("gzip;digest-1") is None
    cache.set("br;digest-3", b"z" * 40)  # over the budget: the least recently used goes
    assert cache.bytes <= 100 and cache.get("br;digest-2") is None
    cache.set("br;" + compression.NOT_KEPT, b"answer")
    assert cache.get("br;" + compression.NOT_KEPT) is None


def test_pages_the_api_and_the_tick_are_not_compressed(wall_app):
    client = wall_app.server.test_client()
    headers = {"Accept-Encoding": BROWSER}
    for path in ("/tv", "/manager", "/health", "/api/v1/tick", "/api/v1/nps"):
        reply = client.get(path, headers=headers)
        assert reply.headers.get("Content-Encoding") is None, path


def test_the_layout_and_dependencies_are_compressed(wall_app):
    client = wall_app.server.test_client()
    for path in ("/_dash-layout", "/_dash-dependencies"):
        plain = client.get(path)
        packed = client.get(path, headers={"Accept-Encoding": "gzip"})
        if len(plain.get_data()) >= compression.MIN_BYTES:
            assert packed.headers["Content-Encoding"] == "gzip", path
        assert decoded(packed) == plain.get_data()


def test_a_range_of_a_file_goes_as_it_is(wall_app):
    """A 206 names bytes of the file as it is: compressing them would break the range."""
    client = wall_app.server.test_client()
    path = next(p for p in front_end_files(client) if p.startswith("/assets/"))
    whole = client.get(path).get_data()
    part = client.get(path, headers={"Accept-Encoding": BROWSER, "Range": "bytes=10-99"})
    assert part.status_code == 206 and part.headers.get("Content-Encoding") is None
    assert part.get_data() == whole[10:100]


@pytest.mark.parametrize("mode", ["files", "off"])
def test_a_site_can_keep_answers_with_comments_uncompressed(make_app, sqlite_store, mode):
    """NPS_TV_COMPRESS=files: the scripts, styles and layout compressed, nothing that carries
    comments (the wall's poll, Dash answers); off: nothing."""
    from tests.conftest import LINK_SECRET

    dash_app = seeded_app(make_app, sqlite_store, compress=mode)
    client = dash_app.server.test_client()
    headers = {"Accept-Encoding": BROWSER}
    poll = client.post(UPDATE, json=wall_poll_body({"query": {}}, None), headers=headers)
    assert LINK_SECRET in poll.get_data(as_text=True)  # the comments, as they are
    assert poll.headers.get("Content-Encoding") is None
    with through_dash(dash_app):
        slow = client.post(UPDATE, json=wall_poll_body({"query": {}}, None), headers=headers)
    assert slow.headers.get("Content-Encoding") is None and LINK_SECRET in slow.get_data(
        as_text=True)
    bundle = front_end_files(client)[0]
    layout = client.get("/_dash-dependencies", headers=headers)
    file = client.get(bundle, headers=headers)
    expected = None if mode == "off" else "zstd"
    assert file.headers.get("Content-Encoding") == expected
    assert layout.headers.get("Content-Encoding") == expected


def test_the_compress_setting_names_what_it_takes():
    from app.config import Settings

    assert Settings.from_env({"NPS_TV_COMPRESS": " Files "}).compress == "files"
    with pytest.raises(Exception, match="NPS_TV_COMPRESS"):
        Settings.from_env({"NPS_TV_COMPRESS": "gzip"})
