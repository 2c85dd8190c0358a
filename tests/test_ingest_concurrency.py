"""Concurrent REST ingest through real local servers: nothing lost, nothing stored twice, no
"database is locked" and no deadlock, on SQLite and PostgreSQL.

Two apps on one database stand in for two gunicorn workers: each has its own Store, engine and
in-process write lock, so only the database keeps their writes apart.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest
from werkzeug.serving import make_server

from app.config import Settings
from app.services import get_services
from app.store import Store
from app.store.database import RESPONSES
from app.web import create_app

TOKEN = "ingest-secret-0123456789"
WORKERS = 2
CLIENTS = 20
PER_CLIENT = 500
BATCH = 50
REQUEST_TIMEOUT = 120  # seconds; a request that hangs fails the test instead of the run
JOIN_TIMEOUT = 300


@contextmanager
def serving(dash_app) -> Iterator[str]:
    """Serve ``dash_app`` on 127.0.0.1 at a free port in a daemon thread; yield its base URL."""
    server = make_server("127.0.0.1", 0, dash_app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="test-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        get_services(dash_app).store.dispose()


@pytest.fixture
def worker_urls(settings: Settings, store: Store) -> Iterator[list[str]]:
    """Base URLs of two servers, each an app with its own Store on the store's database.

    Each has already taken one post, as a running worker has: its segment and topic ids are
    cached, so later posts open their transaction with a read, not an insert.
    """
    configured = settings.replace(database_url=store.url, ingest_token=TOKEN)
    with ExitStack() as stack:
        urls = [stack.enter_context(serving(create_app(configured))) for _ in range(WORKERS)]
        for worker, url in enumerate(urls):
            warm_up = [response(-1 - worker, n) | {"comment": None} for n in range(7)]
            assert post_json(url, warm_up)[0] == 201
        with store.engine.begin() as conn:
            conn.execute(RESPONSES.delete())
        yield urls


def post_json(base_url: str, payload: Any) -> tuple[int, dict[str, Any]]:
    """POST ``payload`` to /api/v1/responses; (status, JSON body) even for error statuses."""
    request = urllib.request.Request(
        f"{base_url}/api/v1/responses", data=json.dumps(payload).encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"})
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        text = error.read().decode("utf-8", "replace")
        try:
            return error.code, json.loads(text)
        except ValueError:
            return error.code, {"error": text[:500]}


def run_at_once(jobs: list[Callable[[], Any]]) -> list[Any]:
    """Run every job in its own thread, released together; results in job order.

    An exception in a job is returned as its result, so one failure cannot hang the others.
    """
    barrier = threading.Barrier(len(jobs), timeout=30)
    results: list[Any] = [None] * len(jobs)

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = jobs[index]()
        except Exception as exc:  # noqa: BLE001 - reported by the test's assertions
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=JOIN_TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a client thread did not finish"
    return results


def response(client: int, n: int, score: int | None = None) -> dict[str, Any]:
    return {"external_id": f"c{client}-{n}", "score": (client + n) % 11 if score is None else score,
            "comment": f"client {client} answer {n}", "segments": {"plan": f"p{n % 7}"}}


def post_batches(base_url: str, client: int) -> list[tuple[int, dict[str, Any]]]:
    """One client's 500 distinct responses, posted in batches of 50."""
    return [post_json(base_url, [response(client, n) for n in range(start, start + BATCH)])
            for start in range(0, PER_CLIENT, BATCH)]


def test_twenty_clients_posting_at_once_store_every_response(worker_urls, store):
    results = run_at_once([
        (lambda c=c: post_batches(worker_urls[c % WORKERS], c)) for c in range(CLIENTS)])
    failures = [r for r in results if isinstance(r, Exception)]
    assert not failures, failures[:3]
    replies = [reply for client in results for reply in client]
    assert len(replies) == CLIENTS * PER_CLIENT // BATCH
    assert [status for status, _ in replies if status != 201] == [], replies[:3]
    assert sum(body["inserted"] for _, body in replies) == CLIENTS * PER_CLIENT
    assert store.count_responses() == CLIENTS * PER_CLIENT


@pytest.mark.parametrize("size", [1, 300])
def test_same_payload_posted_three_times_at_once_is_stored_once(worker_urls, store, size):
    payload = [response(0, n) for n in range(size)]
    body = payload[0] if size == 1 else payload
    results = run_at_once([
        (lambda i=i: post_json(worker_urls[i % WORKERS], body)) for i in range(3)])
    assert [r for r in results if isinstance(r, Exception)] == []
    assert all(status in (200, 201) for status, _ in results), results
    # Exactly one of the three requests inserted each response; the others found it stored.
    assert sum(reply["inserted"] for _, reply in results) == size
    assert sum(reply["unchanged"] for _, reply in results) == 2 * size
    assert store.count_responses() == size


def test_overlapping_batches_in_opposite_orders_do_not_deadlock(worker_urls, store):
    """Two workers upserting the same new ids in opposite orders: a classic lock-order deadlock."""
    rounds, size = 3, 400
    for round_ in range(rounds):
        forward = [response(round_, n, score=9) for n in range(size)]
        backward = [response(round_, n, score=3) for n in reversed(range(size))]
        results = run_at_once([lambda body=forward: post_json(worker_urls[0], body),
                               lambda body=backward: post_json(worker_urls[1], body)])
        assert [r for r in results if isinstance(r, Exception)] == []
        assert [status for status, _ in results if status not in (200, 201)] == [], results
        # One request inserted every response, the other then updated every score.
        assert sorted((reply["inserted"], reply["updated"]) for _, reply in results) == [
            (0, size), (size, 0)]
    assert store.count_responses() == rounds * size
