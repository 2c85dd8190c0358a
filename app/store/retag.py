"""Re-tagging every stored response (``nps-tv topics retag``), exactly once across processes.

A run is a row of ``topic_retag_runs`` keyed by the tagger's fingerprint (taxonomy and
models). The first process to ask inserts it, inside the store's cross-process write lock (a
PostgreSQL advisory lock, SQLite's ``BEGIN IMMEDIATE``), so exactly one process owns it; any
other waits for it to finish and reports its result, writing nothing. The owner works in id
batches, each one short write transaction that also records ``last_id`` and a heartbeat, so a
crashed run (its heartbeat older than the lease) is taken over and resumes after the last
finished batch. Between batches the lock is free: ingest and the pollers carry on, and each
changed row's ``updated_at`` is bumped so every poller refolds it within one poll.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, func, insert, select, update

from app.store.errors import translated
from app.store.models import Response, TopicRetagRun, TopicSet

if TYPE_CHECKING:
    from app.store.database import Store

RESPONSES = Response.__table__
RUNS = TopicRetagRun.__table__
TOPIC_SETS = TopicSet.__table__
# One statement for every changed row of a batch (executemany), updated_at bumped so every
# poller refolds the row.
CHANGE_TOPICS = update(RESPONSES).where(RESPONSES.c.id == bindparam("rid")).values(
    topic_set_id=bindparam("tid"), updated_at=bindparam("now"))
LEASE_SECONDS = 30.0  # a run whose heartbeat is older than this is taken over
WAIT_SECONDS = 0.5  # how often a waiting process looks at the owner's run
DEFAULT_BATCH = 500
# After each batch the owner rests this share of the batch's time, so a waiting ingest (or
# SQLite's busy handler, which polls) gets the lock between batches.
REST_SHARE = 0.5


class LeaseLost(RuntimeError):
    """Another process took this run over (this one was too slow to beat its heart)."""


@dataclass(frozen=True)
class RetagRun:
    """A stored retag run."""

    id: int
    fingerprint: str
    state: str
    owner: str
    total: int
    scanned: int
    changed: int
    last_id: int
    started_at: datetime
    heartbeat_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class RetagOutcome:
    """How a ``retag`` call ended: the run, and whether this process did (some of) it."""

    run: RetagRun
    ran: bool
    resumed_from: int = 0  # last_id this process started after (0: from the start)
    waited: float = 0.0  # seconds this process waited for another owner


def default_owner() -> str:
    """This process, as a run's owner."""
    return f"{socket.gethostname()}:{os.getpid()}:{time.monotonic_ns() % 10**9}"


def get_run(store: Store, fingerprint: str) -> RetagRun | None:
    """The run for ``fingerprint``, if any."""
    with translated(), store.engine.connect() as conn:
        row = conn.execute(select(RUNS).where(RUNS.c.fingerprint == fingerprint)).first()
    return RetagRun(**row._mapping) if row is not None else None


def claim(store: Store, fingerprint: str, owner: str, lease: float = LEASE_SECONDS,
          now: datetime | None = None) -> tuple[RetagRun, bool]:
    """Claim the run for ``fingerprint``: (run, True) when ``owner`` now owns it (new, or a
    stale one taken over), (run, False) when it is done or another owner's lease is alive."""
    with store._writing(serialised=True) as conn:  # noqa: SLF001 - the store's own write path
        store._take_write_locks(conn)  # noqa: SLF001
        now = now or datetime.now(UTC)
        row = conn.execute(select(RUNS).where(RUNS.c.fingerprint == fingerprint)).first()
        if row is None:
            total = conn.execute(select(func.count()).select_from(RESPONSES)).scalar_one()
            conn.execute(insert(RUNS).values(
                fingerprint=fingerprint, state="running", owner=owner, total=int(total),
                scanned=0, changed=0, last_id=0, started_at=now, heartbeat_at=now))
            claimed = True
        elif row.state == "running" and row.heartbeat_at < now - timedelta(seconds=lease):
            conn.execute(update(RUNS).where(RUNS.c.id == row.id).values(
                owner=owner, heartbeat_at=now))
            claimed = True
        else:
            claimed = row.state == "running" and row.owner == owner
        run = conn.execute(select(RUNS).where(RUNS.c.fingerprint == fingerprint)).one()
    return RetagRun(**run._mapping), claimed


def retag_batch(store: Store, run_id: int, owner: str, batch: int) -> RetagRun:
    """Re-tag the next ``batch`` responses of the run in one transaction; the run afterwards
    (state ``done`` once no response is left). LeaseLost when another owner took it over."""
    learned: dict[str, int] = {}
    with store._writing(serialised=True) as conn:  # noqa: SLF001
        store._take_write_locks(conn)  # noqa: SLF001
        now = datetime.now(UTC)
        run = conn.execute(select(RUNS).where(RUNS.c.id == run_id)).one()
        if run.owner != owner or run.state != "running":
            raise LeaseLost(f"retag run {run_id} is now {run.owner}'s ({run.state})")
        rows = conn.execute(
            select(RESPONSES.c.id, RESPONSES.c.comment, TOPIC_SETS.c.key)
            .join(TOPIC_SETS, TOPIC_SETS.c.id == RESPONSES.c.topic_set_id)
            .where(RESPONSES.c.id > run.last_id).order_by(RESPONSES.c.id).limit(batch)).all()
        if not rows:
            conn.execute(update(RUNS).where(RUNS.c.id == run_id).values(
                state="done", heartbeat_at=now, finished_at=now))
        else:
            fixes = store.corrections_for(conn, [int(r.id) for r in rows])
            changed = {}
            for rid, comment, old_key in rows:
                key = store.topic_key_for(comment, fixes.get(int(rid)))
                if key != old_key:
                    changed[int(rid)] = key
            if changed:
                learned = store.topic_set_ids(conn, changed.values())
                conn.execute(CHANGE_TOPICS, [{"rid": rid, "tid": learned[key], "now": now}
                                             for rid, key in changed.items()])
            conn.execute(update(RUNS).where(RUNS.c.id == run_id).values(
                last_id=int(rows[-1].id), scanned=RUNS.c.scanned + len(rows),
                changed=RUNS.c.changed + len(changed), heartbeat_at=now))
        after = conn.execute(select(RUNS).where(RUNS.c.id == run_id)).one()
    store.learn_topic_sets(learned)
    return RetagRun(**after._mapping)


def retag(store: Store, fingerprint: str, *, batch: int = DEFAULT_BATCH,
          owner: str | None = None, lease: float = LEASE_SECONDS,
          progress: Callable[[RetagRun], None] | None = None,
          wait: Callable[[float], None] = time.sleep) -> RetagOutcome:
    """Re-tag every stored response for ``fingerprint``, exactly once across processes.

    The owner calls ``progress(run)`` after each batch; a process that finds the run owned
    by a live process waits for it (taking it over should its lease lapse) and returns its
    result with ``ran=False``; a finished run is returned as it is. An owner that loses its
    lease (a batch slower than the lease) waits for the process that took the run over.
    """
    owner = owner or default_owner()
    batch = max(1, int(batch))
    began, waiting = time.monotonic(), False
    while True:
        run, claimed = claim(store, fingerprint, owner, lease)
        if claimed:
            resumed_from, waited = run.last_id, time.monotonic() - began
            try:
                run = _work(store, run, owner, batch, progress, wait)
            except LeaseLost:
                continue  # another process took it over: wait for it like any other
            return RetagOutcome(run, ran=True, resumed_from=resumed_from, waited=waited)
        if run.state == "done":
            if progress is not None and waiting:
                progress(run)  # the bar it watched reaches the end
            return RetagOutcome(run, ran=False, waited=time.monotonic() - began)
        waiting = True
        if progress is not None:
            progress(run)
        wait(WAIT_SECONDS)


def _work(store: Store, run: RetagRun, owner: str, batch: int,
          progress: Callable[[RetagRun], None] | None,
          wait: Callable[[float], None]) -> RetagRun:
    """The owner's batches until the run is done, resting between them."""
    while run.state == "running":
        started = time.monotonic()
        run = retag_batch(store, run.id, owner, batch)
        if progress is not None:
            progress(run)
        wait(max(0.001, REST_SHARE * (time.monotonic() - started)))
    return run
