"""Writes on a budget: a few at a time per process, each within a deadline, failures counted.

Without a budget, requests waiting on a locked store each hold a server thread and a pooled
connection until the driver gives up (30 s), and the wall and /health queue behind them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text

from app.store.errors import StoreUnavailable
from app.store.sqlite import SHORTENED

MIN_WAIT = 0.05  # seconds: a write that got its slot late still tries once, briefly
STATEMENT_FACTOR = 2  # a write statement may run this many write timeouts before it is cut
# No write slot freed or taken, and no statement of a write finished, for this long (at least):
# the store is stuck.
STALL_SECONDS = 0.5
STALL_FACTOR = 3  # ... or for this many typical writes, when writes are slow (a busy server)
TYPICAL_DECAY = 0.95  # per successful write, how slowly a slow write is forgotten
SLOT_POLL = 0.05  # seconds between a waiting write's looks at the slots
WRITING = "nps_tv.writing"  # in a connection's info while it runs a gated write


class WriteGate:
    """Bounded write concurrency and deadlines for one Store, and its run of failed writes."""

    # When any write slot in this process was last taken or freed. Shared by every gate:
    # apps on one database in one process wait on each other's locks, and one's progress
    # is the other's proof that the store is not stuck.
    moved_at = time.monotonic()

    def __init__(self, concurrency: int = 4, timeout: float = 5.0):
        self.configure(concurrency, timeout)
        self.failures = 0  # failed writes in a row; /health reads it
        self.last_error: str | None = None
        self.last_failure_at = 0.0  # monotonic
        self._count_lock = threading.Lock()

    def configure(self, concurrency: int, timeout: float) -> None:
        """Set the limits (before the first write; a running write keeps its old slot)."""
        self.concurrency = max(1, int(concurrency))
        self.timeout = max(MIN_WAIT, float(timeout))
        self._slots = threading.BoundedSemaphore(self.concurrency)
        self._typical = 0.0  # seconds a slow successful write held its slot (decaying peak)

    @contextmanager
    def admit(self) -> Iterator[float]:
        """Hold one of the write slots; yields the deadline (monotonic) for every later wait."""
        deadline = time.monotonic() + self.timeout
        slots = self._slots
        if not self._wait_for_slot(slots, deadline):
            raise self.failed(StoreUnavailable(
                "WriteTimeout", f"all {self.concurrency} write slots busy and no write "
                                "finishing"))
        took = WriteGate.moved_at = time.monotonic()
        try:
            yield deadline
            # Reached only when the write succeeded: failed ones say nothing of normal speed.
            # Quick to rise, slow to fall: one slow burst keeps later bursts patient.
            self._typical = max(time.monotonic() - took, self._typical * TYPICAL_DECAY)
        finally:
            slots.release()
            WriteGate.moved_at = time.monotonic()

    def _wait_for_slot(self, slots: threading.BoundedSemaphore, deadline: float) -> bool:
        # Waiting is for bursts on a healthy store, where slots turn over within a few writes
        # times. When none has moved for much longer the store is stuck: every further waiter
        # would only hold a server thread (gthread has 8) until the deadline, and the wall's
        # requests would queue behind them; so it gives up and answers 503 now.
        while not slots.acquire(timeout=min(SLOT_POLL, remaining(deadline))):
            now = time.monotonic()
            stall = min(self.timeout, max(STALL_SECONDS, STALL_FACTOR * self._typical))
            if now >= deadline or now - WriteGate.moved_at > stall:
                return False
        return True

    def take(self, lock: threading.Lock, deadline: float) -> None:
        """Acquire ``lock`` before the deadline, or fail the write."""
        if not lock.acquire(timeout=remaining(deadline)):
            raise self.failed(StoreUnavailable(
                "WriteTimeout", f"the previous write still ran after {self.timeout:g} s"))

    def limit(self, conn, dialect: str, deadline: float) -> None:
        """Make the database give up waiting for locks at the deadline (inside the write).

        Also marks ``conn`` as writing until the pool takes it back: each statement it
        finishes shows the store is moving (``statement_finished``), so a long healthy write
        on a slow machine is not mistaken for a stuck store by the writes waiting for a slot."""
        conn.info[WRITING] = True
        wait_ms = int(remaining(deadline) * 1000)
        if dialect == "sqlite":
            # Before BEGIN IMMEDIATE: how long SQLite retries a locked file before "locked".
            conn.exec_driver_sql(f"PRAGMA busy_timeout = {wait_ms}")
            conn.info[SHORTENED] = True  # restored when the pool takes it back (sqlite.py)
        elif dialect == "postgresql":
            # Transaction-local: pooled connections keep the server's defaults for reads.
            conn.execute(text("SELECT set_config('lock_timeout', :lock, true), "
                              "set_config('statement_timeout', :statement, true)"),
                         {"lock": str(wait_ms),
                          "statement": str(int(STATEMENT_FACTOR * self.timeout * 1000))})

    def failed(self, error: StoreUnavailable) -> StoreUnavailable:
        """Count a failed write; returns ``error`` for raising."""
        with self._count_lock:
            self.failures += 1
            self.last_error = error.error
            self.last_failure_at = time.monotonic()
        return error

    def failing(self, threshold: int, within_seconds: float) -> bool:
        """At least ``threshold`` failures in a row, the last one recent.

        Without writes after an outage nothing would reset the run, and /health would stay
        503 for good; an old run says nothing about the store now.
        """
        return (self.failures >= threshold
                and time.monotonic() - self.last_failure_at <= within_seconds)

    def succeeded(self) -> None:
        """A write committed: the run of failures is over."""
        with self._count_lock:
            self.failures = 0
            self.last_error = None


def checked_in(_dbapi_connection, record) -> None:
    """Pool checkin: the gated write on this connection, if any, has ended."""
    record.info.pop(WRITING, None)


def statement_finished(conn, *_event_args) -> None:
    """SQLAlchemy ``after_cursor_execute``: a gated write's statement finished."""
    if conn.info.get(WRITING):
        WriteGate.moved_at = time.monotonic()


def remaining(deadline: float) -> float:
    """Seconds left before ``deadline``, never less than MIN_WAIT."""
    return max(MIN_WAIT, deadline - time.monotonic())
