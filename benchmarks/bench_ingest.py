"""REST batch ingest throughput: POST /api/v1/responses to a real local server on SQLite.

    python benchmarks/bench_ingest.py          # 20,000 rows, batches of 500, 1 and 4 clients
    python benchmarks/bench_ingest.py --rows 50000 --clients 1 2 8

Each run starts a fresh SQLite store and one werkzeug server (threaded, 127.0.0.1, a free port),
posts ``--rows`` distinct responses with comments and three segments in batches of ``--batch``
split evenly across the clients, and prints rows/s from the first request to the last reply.
The figure includes JSON encoding and HTTP on the client side, validation, topic tagging and
one transaction per batch on the server.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from werkzeug.serving import make_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.config import DEFAULT_DATA_DIR, Settings  # noqa: E402
from app.services import get_services  # noqa: E402
from app.web import create_app  # noqa: E402

TOKEN = "bench-ingest-token-0123456789"  # at least 16 characters, as every token
TIMEOUT = 120
COMMENTS = (
    "Great support, they answered within minutes.",
    "Too expensive for what it does.",
    "The app crashes when I upload a large file, please fix.",
    "Facturación confusa, pero el producto es bueno.",
    None,
)
PLANS, REGIONS, PRODUCTS = ("free", "team", "enterprise"), ("EMEA", "AMER", "APAC"), (
    "web", "ios", "android", "api")


def build_batches(rows: int, batch: int, seed: int = 7) -> list[bytes]:
    """``rows`` synthetic responses as JSON request bodies of ``batch`` responses each."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    bodies = []
    for first in range(0, rows, batch):
        items = [{
            "external_id": f"bench-{i}", "score": rng.randint(0, 10),
            "created_at": (start + timedelta(seconds=rng.randrange(300 * 86_400))).isoformat(),
            "comment": rng.choice(COMMENTS), "source": "bench",
            "segments": {"plan": rng.choice(PLANS), "region": rng.choice(REGIONS),
                         "product": rng.choice(PRODUCTS)},
        } for i in range(first, min(first + batch, rows))]
        bodies.append(json.dumps(items).encode())
    return bodies


@contextmanager
def serve(data_dir: str) -> Iterator[tuple[str, object]]:
    """A fresh app on SQLite in ``data_dir``, served on 127.0.0.1; yields (base URL, store)."""
    settings = Settings(data_dir=data_dir, topics_file=str(DEFAULT_DATA_DIR / "topics.json"),
                        ingest_token=TOKEN, build_id="bench")
    dash_app = create_app(settings)
    server = make_server("127.0.0.1", 0, dash_app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", get_services(dash_app).store
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        get_services(dash_app).store.dispose()


def post(url: str, body: bytes) -> int:
    """POST one batch; the number of responses the server inserted."""
    request = urllib.request.Request(
        url, data=body, method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        return json.loads(response.read())["inserted"]


def run(rows: int, batch: int, clients: int) -> float:
    """Post ``rows`` responses with ``clients`` concurrent clients; print and return rows/s."""
    bodies = build_batches(rows, batch)
    inserted = [0] * clients
    errors: list[BaseException] = []

    def client(index: int, url: str) -> None:
        try:
            for body in bodies[index::clients]:
                inserted[index] += post(url, body)
        except BaseException as exc:  # noqa: BLE001 - reported after the run
            errors.append(exc)

    with tempfile.TemporaryDirectory() as folder, serve(folder) as (base, store):
        url = f"{base}/api/v1/responses"
        threads = [threading.Thread(target=client, args=(i, url)) for i in range(clients)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=TIMEOUT * len(bodies))
        seconds = time.perf_counter() - started
        stored = store.count_responses()
    if errors:
        raise SystemExit(f"{clients} client(s): {len(errors)} failed, first: {errors[0]!r}")
    rate = rows / seconds
    print(f"{clients} client(s): {rows:,} rows in {len(bodies)} batches of {batch}: "
          f"{seconds:.2f} s, {rate:,.0f} rows/s "
          f"({sum(inserted):,} inserted, {stored:,} stored)", flush=True)
    if stored != rows:
        raise SystemExit(f"expected {rows:,} stored responses, found {stored:,}")
    return rate


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark for each client count."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000, help="responses to post per run")
    parser.add_argument("--batch", type=int, default=500, help="responses per request (<= 1000)")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4],
                        help="concurrent client counts to run, one fresh store each")
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    for clients in args.clients:
        run(args.rows, args.batch, clients)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
