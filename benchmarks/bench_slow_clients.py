"""What clients that are slow to take their answers cost a real server (``app/departure.py``).

    python benchmarks/bench_slow_clients.py                  # 0, 16, 40, 100 clients
    python benchmarks/bench_slow_clients.py --clients 0 16 --health 50

1. ``nps-tv serve`` (2 workers x 8 threads, the defaults) on an empty SQLite store, 127.0.0.1.
2. For each N in ``--clients``: N clients each ask for plotly's bundle without gzip (4.8 MB,
   the largest answer anyone may ask for) with a 4 KB receive buffer and read nothing; then
   ``--health`` fresh ``GET /health`` requests one after another, timed (p50, p95, max), and
   the workers' RSS; then the N clients close.
3. One client reads the bundle at about 1 MB/s (``--rate``): the seconds it took and whether
   every byte arrived, since a slow reader must never be cut.

Printed per N: /health p50/p95/max ms, errors, the workers' RSS (MB) while the answers wait,
and the ratio of p95 to the p95 with no slow clients.
"""

from __future__ import annotations

import argparse
import http.client
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_viewers import HOST, free_port, start_server, stop_server, workers_of  # noqa: E402

BUNDLE = "/_dash-component-suites/plotly/package_data/plotly.min.js"


def health_times(port: int, count: int) -> tuple[list[float], int]:
    """``count`` timed GET /health on fresh connections: (seconds of each answered, errors)."""
    times, errors = [], 0
    for _ in range(count):
        started = time.monotonic()
        conn = http.client.HTTPConnection(HOST, port, timeout=10)
        try:
            conn.request("GET", "/health")
            response = conn.getresponse()
            response.read()
            if response.status == 200:
                times.append(time.monotonic() - started)
            else:
                errors += 1
        except OSError:
            errors += 1
        finally:
            conn.close()
    return times, errors


def stalled_clients(port: int, count: int) -> list[socket.socket]:
    socks = []
    for _ in range(count):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect((HOST, port))
        sock.sendall(f"GET {BUNDLE} HTTP/1.1\r\nHost: {HOST}:{port}\r\n\r\n".encode())
        socks.append(sock)
    return socks


def slow_read(port: int, rate: float) -> tuple[float, int, int]:
    """Read the bundle at about ``rate`` bytes a second: (seconds, bytes of body, expected)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    conn.request("GET", BUNDLE)
    expected = len(conn.getresponse().read())
    conn.close()
    sock = socket.create_connection((HOST, port), timeout=30)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    sock.sendall(f"GET {BUNDLE} HTTP/1.1\r\nHost: {HOST}:{port}\r\n\r\n".encode())
    started, got = time.monotonic(), bytearray()
    deadline = started + 4 * expected / rate + 30
    while time.monotonic() < deadline:
        chunk = sock.recv(int(rate / 20))
        if not chunk:
            break
        got += chunk
        head, _, body = bytes(got).partition(b"\r\n\r\n")
        if len(body) >= expected:
            break
        time.sleep(0.05)
    sock.close()
    return time.monotonic() - started, len(bytes(got).partition(b"\r\n\r\n")[2]), expected


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, nargs="+", default=[0, 16, 40, 100])
    parser.add_argument("--health", type=int, default=30, help="timed /health per case")
    parser.add_argument("--rate", type=float, default=1_000_000, help="slow reader, bytes/s")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="nps-bench-slow-") as tmp:
        port = free_port()
        proc = start_server(f"sqlite:///{tmp}/bench.db", port, 2, tmp)
        try:
            print(f"{'clients':>7} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} {'errors':>6} "
                  f"{'RSS MB':>10} {'p95 / none':>10}")
            base = None
            for count in args.clients:
                socks = stalled_clients(port, count)
                try:
                    time.sleep(1.0)  # every request arrived and answered into the loop
                    times, errors = health_times(port, args.health)
                    rss = "/".join(f"{w.memory_info().rss / 2**20:.0f}" for w in workers_of(proc))
                finally:
                    for sock in socks:
                        sock.close()
                p95 = statistics.quantiles(times, n=20)[-1] if len(times) > 1 else float("nan")
                base = p95 if base is None else base
                print(f"{count:>7} {1000 * statistics.median(times):>7.1f} {1000 * p95:>7.1f} "
                      f"{1000 * max(times):>7.1f} {errors:>6} {rss:>10} {p95 / base:>9.1f}x",
                      flush=True)
                time.sleep(1.0)
            seconds, body, expected = slow_read(port, args.rate)
            print(f"slow reader at {args.rate / 1e6:.1f} MB/s: {body} of {expected} bytes in "
                  f"{seconds:.1f} s ({'whole' if body == expected else 'CUT'})")
        finally:
            stop_server(proc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
