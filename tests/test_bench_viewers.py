"""The load generator of benchmarks/bench_viewers.py: screens split over client processes
without losing or repeating one, and their tallies added up."""

from __future__ import annotations

import asyncio
import json
import time

from benchmarks import bench_viewers
from benchmarks.bench_viewers import Ask, Screen, Tally, run_clients, split_with_stream


class FakePool:
    """Runs the jobs in this process and remembers them."""

    def __init__(self):
        self.jobs = []

    def starmap(self, func, jobs):
        self.jobs = list(jobs)
        return [fake_tally(job) for job in self.jobs]


def fake_tally(job) -> Tally:
    _port, _asks, n, _seconds, _distinct, first, _warmup = job
    tally = Tally(latencies=[0.001] * n, errors=first % 2, lags=[0.002], cpu_seconds=0.5)
    tally.statuses[200] += n
    tally.count_by_kind["tick"] += n
    return tally


def test_screens_are_split_over_clients_each_once():
    pool = FakePool()
    ask = Ask("tick", "GET", "/api/v1/tick", None, 1.0, 10)
    tally = run_clients(pool, 1, [ask], 1001, 5.0, 0, 4, warmup=2.0)
    shares = [(job[2], job[5]) for job in pool.jobs]
    assert shares == [(251, 0), (250, 251), (250, 501), (250, 751)]
    assert {job[6] for job in pool.jobs} == {2.0}
    assert len(tally.latencies) == 1001 and tally.statuses[200] == 1001
    assert tally.count_by_kind["tick"] == 1001
    assert tally.errors == 3  # the three clients starting at an odd screen
    assert tally.cpu_seconds == 2.0 and len(tally.lags) == 4


def test_fewer_screens_than_clients_start_no_empty_client():
    pool = FakePool()
    run_clients(pool, 1, [], 2, 5.0, 0, 4)
    assert [job[2] for job in pool.jobs] == [1, 1]


def test_a_late_event_loop_is_flagged(capsys):
    row = {"screens": 10, "rps": 1.0, "p50": 1.0, "p95": 1.0, "p99": 1.0, "errors": 0,
           "skipped": 0, "bytes_per_screen_per_change": 0.0, "cpu_per_worker": [1],
           "rss_mb_per_worker": [1], "writes": 1, "cpu_ms_per_request": 1.0, "client_cpu": 1,
           "cpu_ms_per_screen_second": 0.5,
           "load_average": 1.0, "clients": 1, "client_cpu_ms_per_request": 0.1,
           "client_lag_p95": bench_viewers.CLIENT_LAG_LIMIT_MS + 1, "per_kind": {}}
    bench_viewers.print_row(row)
    assert "CLIENT-LIMITED" in capsys.readouterr().out
    bench_viewers.print_row({**row, "client_lag_p95": 1.0})
    assert "CLIENT-LIMITED" not in capsys.readouterr().out


def test_a_response_is_visible_from_the_first_answer_read_after_its_write():
    posted = [(100.0, 100.2), (101.0, 101.1), (119.0, 119.1)]  # the last one: too late
    seen = [[(100.1, 100_150_000), (100.9, 100_300_000), (101.6, 101_200_000)],  # sees both
            [(100.5, 100_100_000)]]  # read before the first write was answered: never
    took, missed = bench_viewers.visibility(posted, seen, end=122.0)
    assert [round(t, 2) for t in took] == [0.9, 0.6]
    assert missed == 2  # the second screen, twice


def test_a_screen_keeps_the_data_mark_of_each_answer_with_new_data():
    tally = Tally()
    screen = Screen(1, [], tally)
    screen.learn(json.dumps({"multi": True, "response": {
        "tv-state": {"data": {"token": "t", "mark": [1_700_000_000_000_000, 5]}},
        "tv-status": {"data": {"ok": True}}}}).encode())
    screen.learn(json.dumps({"multi": True, "response": {
        "tv-status": {"data": {"ok": True}}}}).encode())  # nothing new: no mark
    assert [mark for _, mark in tally.seen[0]] == [1_700_000_000_000_000]


POLL_BODY = {"output": "x", "inputs": [{"id": "tv-ask", "property": "data", "value": None}],
             "state": []}


def test_a_captured_stream_is_one_ask_and_its_repeated_polls_stay_triggered():
    seen = [{"method": "GET", "path": "/api/v1/tick/stream?dwell=10", "body": None, "time": 0.0}]
    seen += [{"method": "POST", "path": "/_dash-update-component", "body": POLL_BODY,
              "time": float(t)} for t in range(4)]
    asks, cold = split_with_stream(seen, 1.0)
    (poll, stream) = asks
    assert poll.triggered and not poll.stream and len(cold) == 1
    assert stream.stream and stream.path == "/api/v1/tick/stream?dwell=10"
    assert stream.spread == 1.0 and stream.count == 1


def test_a_replayed_stream_hears_events_and_triggers_the_poll_on_a_new_stamp():
    async def scenario() -> tuple[Tally, Screen]:
        async def serve(reader, writer):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                         b"Connection: close\r\n\r\nretry: 2000\n\n")
            for stamp in ("a", "a", "b"):
                writer.write(b"data: " + json.dumps({"stamp": stamp}).encode() + b"\n\n")
                await writer.drain()
                await asyncio.sleep(0.05)
            await asyncio.sleep(1)
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        tally = Tally()
        poll = Ask("poll", "POST", "/_dash-update-component", POLL_BODY, 0.0, 3, True)
        stream = Ask("GET /api/v1/tick/stream", "GET", "/api/v1/tick/stream", None, 0.0, 1,
                     stream=True, spread=0.01)
        screen = Screen(port, [poll, stream], tally)
        async with server:
            await screen.run_stream(stream, time.monotonic() + 0.8)
        return tally, screen

    tally, screen = asyncio.run(scenario())
    assert tally.count_by_kind["GET /api/v1/tick/stream"] == 3 and tally.errors == 0
    assert screen.stamp == "b" and screen.changed.is_set()
    assert screen.values[(json.dumps("tv-ask"), "data")] == "b"


async def send_health(serve, times: int, idle: float = 0.0) -> Tally:
    """A screen sending ``GET /health`` ``times`` on one connection to a server answering
    with ``serve``, ``idle`` seconds apart; its tally."""
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    tally = Tally()
    health = Ask("GET /health", "GET", "/health", None, 1.0, 3)
    screen = Screen(port, [health], tally)
    async with server:
        await screen.connect()
        for _ in range(times):
            await screen.send(health)
            await asyncio.sleep(idle)
    screen.close()
    return tally


def test_a_connection_the_server_closed_while_idle_is_reopened_not_counted_an_error():
    async def scenario() -> Tally:
        async def serve(reader, writer):  # one answer per connection, then it closes
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
            writer.close()

        # idle between requests: the server's close arrives meanwhile
        return await send_health(serve, times=3, idle=0.1)

    tally = asyncio.run(scenario())
    assert tally.errors == 0 and tally.statuses[200] == 3 and tally.reconnects == 2


def test_the_screens_end_is_the_earliest_client_s():
    tally = Tally()
    for ended in (0.0, 105.0, 103.0):
        part = Tally()
        part.ended = ended
        tally.merge(part)
    assert tally.ended == 103.0


def test_a_pushed_answer_is_applied_only_by_a_screen_with_the_parts_it_starts_from():
    """As the page's npsAsk.serve: the answer's outputs become the screen's values (its new
    state and when it saw the data), with no request; a screen with other parts polls."""
    poll = Ask("poll", "POST", "/_dash-update-component",
               {"inputs": [{"id": "tv-ask", "property": "data", "value": None}]}, 0.0, 1,
               triggered=True)
    tally = Tally()
    screen = Screen(1, [poll], tally)
    state_key = (json.dumps("tv-state"), "data")
    screen.values[state_key] = {"key": "k", "hashes": {"score": "a"}}
    state = {"key": "k", "mark": [5, 1], "hashes": {"score": "b"}}
    answer = json.dumps({"multi": True, "response": {"tv-state": {"data": state}}}).encode()
    read = time.time() - 0.25  # the database clock when the answer's poll began to read
    tick = json.dumps({"stamp": "s1", "push": {"key": "k", "from": {"score": "a"},
                                               "mark": [int(read * 1_000_000), 1]}}).encode()
    assert screen.serve(tick, answer)
    # From the poll's read to the screen: the change's whole way through the server.
    assert len(tally.pushed) == 1 and 0.25 <= tally.pushed[0] < 5
    assert screen.values[state_key] == state and screen.stamp == "s1"
    assert screen.values[(json.dumps("tv-ask"), "data")] == "s1"
    assert tally.served == 1 and len(screen.seen) == 1 and not screen.changed.is_set()
    # The same push again no longer matches (the screen has "b"): it polls at once.
    assert screen.serve(tick.replace(b"s1", b"s2"), answer)
    assert tally.missed == 1 and screen.changed.is_set() and screen.stamp == "s2"
    assert screen.values[state_key] == state  # unchanged until its poll answers
    # A screen whose data is newer than the answer's (its last poll reached a worker that had
    # read more) does not take it either.
    screen.values[state_key] = {"key": "k", "mark": [9, 0], "hashes": {"score": "a"}}
    newer = json.dumps({"stamp": "s3", "push": {"key": "k", "from": {"score": "a"},
                                                "mark": [5, 1]}}).encode()
    assert screen.serve(newer, answer) and tally.missed == 2 and tally.served == 1
    assert len(tally.pushed) == 1  # only applied answers are timed


def test_a_request_the_server_dropped_on_a_reused_connection_is_sent_again_once():
    """The server closed a kept-alive connection as the request went out (nothing
    answered): a browser sends it again on a new connection; on a new connection the same
    is an error."""
    async def scenario(drop_first: bool) -> Tally:
        seen = []

        async def serve(reader, writer):
            while True:
                try:
                    await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    break
                seen.append(1)
                if len(seen) == (1 if drop_first else 2):
                    writer.close()  # read, then closed without a byte of answer
                    return
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()

        return await send_health(serve, times=2)

    reused = asyncio.run(scenario(drop_first=False))
    assert reused.errors == 0 and reused.statuses[200] == 2 and reused.reconnects == 1
    fresh = asyncio.run(scenario(drop_first=True))
    assert fresh.errors == 1 and fresh.reconnects == 0 and fresh.statuses[200] == 1


def test_the_warm_up_is_not_counted():
    tally = Tally(latencies=[1.0], errors=2, lags=[0.5], served=3, missed=1, bytes_in=10,
                  pushed=[0.2])
    tally.statuses[200] += 1
    tally.seen.append([(1.0, 5)])
    tally.restart()
    assert (tally.latencies, tally.errors, tally.lags, tally.served, tally.missed,
            tally.bytes_in, dict(tally.statuses), tally.pushed) == ([], 0, [], 0, 0, 0, {}, [])
    assert tally.seen == [[(1.0, 5)]] and tally.began > 0  # sightings stay: visibility
    total = Tally()
    for began in (0.0, 105.0, 103.0):
        part = Tally()
        part.began = began
        total.merge(part)
    assert total.began == 105.0  # the latest client's: every one is counting by then


def test_a_run_without_requests_says_so_and_the_warm_up_is_printed_apart(capsys):
    row = {"screens": 10, "requests": 0, "rps": 0.0, "p50": float("nan"),
           "p95": float("nan"), "p99": float("nan"), "errors": 0, "skipped": 0,
           "bytes_per_screen_per_change": 2048.0, "cpu_per_worker": [1],
           "rss_mb_per_worker": [1], "writes": 5, "cpu_ms_per_request": 900.0,
           "client_cpu": 1, "cpu_ms_per_screen_second": 0.07, "load_average": 1.0,
           "clients": 1, "client_cpu_ms_per_request": 500.0, "client_lag_p95": 1.0,
           "per_kind": {}, "warmup": 10.0, "warm_requests": 10, "warm_p95": 40.0,
           "warm_errors": 0, "served": 50, "missed": 0, "pushed_p50": 12.0,
           "pushed_p95": 48.5, "pushed_p99": 60.0}
    bench_viewers.print_row(row)
    out = capsys.readouterr().out
    assert "900.00 ms/request" not in out and "no requests" in out
    assert "warm-up (10 s, not counted above): 10 requests, p95 40.0 ms, 0 errors" in out
    assert "50 applied without a request, 0 not matching" in out
    assert "read to the screen (read, views, parts, push): p50 12.0 ms, p95 48.5 ms" in out
    tally = Tally(latencies=[0.01, 0.03, 0.02], errors=1)
    tally.restart()
    assert tally.warm == [(3, 0.02, 0.03, 1)]


def test_screens_ask_for_compression_as_a_browser_does_and_read_it_back():
    """Chromium sends Accept-Encoding with every request; the server may answer in any of
    those, and the screen reads the body as the page's fetch would."""
    import gzip
    import zlib

    import brotli
    from backports import zstd

    ask = Ask("poll", "POST", "/_dash-update-component", {"output": "x"}, 1.0, 3)
    sent = Screen(8050, [ask], Tally()).request_bytes(ask).decode()
    assert "\r\nAccept-Encoding: gzip, deflate, br, zstd\r\n" in sent
    body = b'{"multi":true,"response":{}}' * 50
    for coding, packed in (("gzip", gzip.compress(body)), ("deflate", zlib.compress(body)),
                           ("br", brotli.compress(body)), ("zstd", zstd.compress(body)),
                           (None, body)):
        assert bench_viewers.decode(packed, coding) == body


def test_a_distinct_screen_asks_its_tick_and_stream_with_its_own_filter():
    """The page names its URL parameters on its tick and its stream (``nps_ask.js``), so
    a screen with its own filter must too: with the captured screen's, its stream pushed
    another screen's answer, which never matched, and every distinct screen polled."""
    from urllib.parse import parse_qs, urlsplit

    tick = Ask("tick", "GET", "/api/v1/tick?dwell=10", None, 1.0, 3)
    poll = Ask("poll", "POST", "/_dash-update-component", {"output": "x"}, 1.0, 3)
    screen = Screen(8050, [tick, poll], Tally(), {"window": "7d", "region": "EMEA"})
    line = screen.request_bytes(tick).decode().split("\r\n")[0]
    query = parse_qs(urlsplit(line.split()[1]).query)
    assert query == {"dwell": ["10"], "window": ["7d"], "region": ["EMEA"]}
    assert screen.path(poll) == "/_dash-update-component"
    assert Screen(8050, [tick], Tally()).path(tick) == "/api/v1/tick?dwell=10"


def test_an_event_is_timed_when_its_last_byte_came_not_when_it_was_handled(monkeypatch):
    """One client process plays hundreds of screens: the time a pushed answer is stamped
    with is the time the event loop read its bytes, however long the screens before it took."""
    clock = iter([100.0, 100.5, 109.0])
    monkeypatch.setattr(bench_viewers.time, "time", lambda: next(clock))

    async def scenario() -> tuple[float, float, float]:
        reader = bench_viewers.TimedReader(loop=asyncio.get_running_loop())
        reader.feed_data(b"data: {}\n\n")  # came at 100.0
        reader.feed_data(b"data: {\"a\"")  # 100.5: the second event's first bytes
        first = len(await reader.readuntil(b"\n\n"))
        reader.feed_data(b":1}\n\n")  # 109.0: its last bytes
        second = first + len(await reader.readuntil(b"\n\n"))
        return reader.arrived(first), reader.arrived(second)

    assert asyncio.run(scenario()) == (100.0, 109.0)


def test_a_stream_reads_a_pushed_answer_as_large_as_the_server_pushes():
    # The server pushes answers up to MAX_PUSH_BYTES (every part whole is ~80 KB): a
    # reader limited to 64 KB raised LimitOverrunError out of the screen's task, which
    # ended the whole client process's gather.
    from app.ask_stream import MAX_PUSH_BYTES
    from tests.conftest import free_port
    answer = json.dumps({"multi": True, "pad": "x" * (MAX_PUSH_BYTES - 100)}).encode()
    tick = json.dumps({"stamp": "b", "push": {"key": "k", "from": {"score": "a"}}}).encode()

    async def scenario() -> Tally:
        async def serve(reader, writer):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                         b"Connection: close\r\n\r\nretry: 2000\n\n")
            writer.write(b"data: " + tick + b"\ndata: " + answer + b"\n\n")
            writer.write(b'data: {"stamp":"c"}\n\n')
            await writer.drain()
            await asyncio.sleep(1)
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", free_port())
        port = server.sockets[0].getsockname()[1]
        tally = Tally()
        stream = Ask("GET /api/v1/tick/stream", "GET", "/api/v1/tick/stream", None, 0.0, 1,
                     stream=True, spread=0.01)
        async with server:
            await Screen(port, [stream], tally).run_stream(stream, time.monotonic() + 0.8)
        return tally

    tally = asyncio.run(scenario())
    assert tally.errors == 0 and tally.count_by_kind["GET /api/v1/tick/stream"] == 2
    assert tally.bytes_in > MAX_PUSH_BYTES


def test_a_streamed_screen_says_so_from_its_first_poll_until_its_stream_fails():
    """As the page does (``nps_ask.js``, ``streamed``): its first poll goes before its stream
    opens and says the stream is coming, so the worker it reaches does not build ahead for it
    (``app.live.builds_ahead``); a screen without a stream, or whose stream failed, says
    nothing."""
    from app import live

    poll = Ask("poll", "POST", "/_dash-update-component", {"output": "x"}, 1.0, 3,
               triggered=True)
    stream = Ask("stream", "GET", "/api/v1/tick/stream?dwell=10", None, 0.0, 1, stream=True,
                 spread=1.0)
    header = f"\r\n{live.STREAMED_HEADER}: 1\r\n"
    streamed = Screen(8050, [poll, stream], Tally())
    assert header in streamed.request_bytes(poll).decode()
    assert header not in Screen(8050, [poll], Tally()).request_bytes(poll).decode()

    async def stream_refused():
        # No server on this port: the stream cannot open, and the page asks instead.
        await streamed.run_stream(stream, time.monotonic() + 1)
    streamed.port = free_port()
    asyncio.run(stream_refused())
    assert header not in streamed.request_bytes(poll).decode()


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
