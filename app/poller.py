"""The poll job: read what changed since the previous poll, fold it, publish a snapshot.

Each poll reads rows with an id above the newest seen, or updated since the previous
successful poll *started* minus the overlap. Measuring the overlap from the poll's own start,
not from the newest updated_at, lets an idle server read nothing however much was imported
just before, while a transaction stamped before that start and committed after it (up to
``poll_overlap_seconds`` late) is still read.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np

from app.changes import Minimums
from app.config import Settings
from app.ingest.rules import TimeRange
from app.rollup import Rollup, Snapshot
from app.store import Store
from app.store.errors import error_class, first_line
from app.store.follow_ups import FollowUps
from app.view_cache import ViewCache, count_delta, touched_combos
from app.views import View, ViewRequest

log = logging.getLogger(__name__)

CATCH_UP_WAIT = 0.5  # seconds a poll request waits for a catch-up poll at most
CATCH_UP_GAP = 0.2  # seconds between catch-up polls at least (each process)
CATCH_UP_BACKOFF = 5.0  # seconds without catch-ups after one's read failed
# Publishes (in this process, of every poller) between two full garbage collections; between
# them, what a publish leaves alive is frozen (``settle_garbage``).
FULL_COLLECT_EVERY = 100
COLLECT_AFTER = 1.0  # seconds after the publish the due full collection runs, at most
_publishes = 0
_collect_due = False  # a full collection is due: the poll job runs it once all is quiet
_publishes_lock = threading.Lock()


def settle_garbage() -> None:
    """After a publish: freeze what is alive (``gc.freeze``), so the collector stops scanning
    the snapshot, the cached views and parts again and again; every ``FULL_COLLECT_EVERY``
    publishes a full collection is due (``collect_if_due``), so cycles that died meanwhile
    are freed.

    With 100 distinct screens a worker holds some 350,000 objects, most of them long-lived
    cached parts; each change's new parts pushed them into the oldest generation, whose
    collection (about 200 ms) came every 20 changes or so, and the younger collections
    scanned the survivors too: 15-20 ms of every change, measured (issue 13, item 3). Frozen,
    only the objects made since the last publish are scanned. What is freed meanwhile by
    reference counting (nearly everything: an evicted part, an old snapshot) is freed at
    once; only garbage in reference cycles waits for the next full collection (about 80
    objects a change on the demo).
    """
    global _publishes, _collect_due
    with _publishes_lock:
        _publishes += 1
        if _publishes % FULL_COLLECT_EVERY == 0:
            _collect_due = True
    gc.freeze()


def collect_if_due() -> bool:
    """The full collection ``settle_garbage`` made due, if it did: unfreeze, collect
    everything, freeze again. It holds the interpreter 0.1-0.35 s, so the poll job runs it
    when nothing waits on it (``Poller.poll``): a while after the publish, once the stream
    hub's round has pushed the change (run at the publish, it held those pushes up: 1,000
    told screens with a full collection every 3 publishes, about 100 ms each, had pushed
    answers p95 142-164 ms, 60-67 ms with it here), and long before the next read (run
    before the read, it would hold up the next change as long)."""
    global _collect_due
    with _publishes_lock:
        due, _collect_due = _collect_due, False
    if due:
        gc.unfreeze()
        gc.collect()
        gc.freeze()
    return due


def empty_snapshot(topic_names: tuple[str, ...] = ()) -> Snapshot:
    """The snapshot viewers see before the first poll finishes."""
    return Snapshot(
        version=0, as_of=datetime.fromtimestamp(0, tz=UTC), day0=0,
        counts=np.zeros((0, 0, 3), dtype=np.int32),
        topic_counts=np.zeros((0, 0, len(topic_names), 3), dtype=np.int32),
        combos=(), topic_names=topic_names, comments=(), events=(), stored=0,
        tone_counts=np.zeros((0, 0, len(topic_names), 3), dtype=np.int32))


class Poller:
    """Owns the rollup; ``poll()`` is read-only on the database and safe to run anywhere."""

    def __init__(self, store: Store, settings: Settings, topic_names: tuple[str, ...] = ()):
        self.store = store
        self.settings = settings
        self.time_range = TimeRange.from_settings(settings)
        self.rollup = Rollup(settings.timezone, topic_names, settings.comments_keep,
                             settings.segment_fields, settings.segment_values_max,
                             self.time_range)
        # A quarter of the cache budget: views are small next to the built panels.
        self.views = ViewCache(max_bytes=int(settings.cache_mb * 2**20 / 4))
        self.minimums = Minimums(settings.change_min_responses, settings.change_min_mentions)
        # (snapshot, mark) replaced together in one assignment, so a reader never pairs a
        # snapshot with a mark newer than its data (see ``current``).
        self._current: tuple[Snapshot, tuple[int, int]] = (
            empty_snapshot(tuple(topic_names)), (0, 0))
        self._lock = threading.Lock()
        self._publishing = threading.Lock()
        # Catch-ups (``catch_up``): when the newest one asked, when the newest finished poll
        # began, when the last catch-up poll began (monotonic), and whether a thread polls.
        self._catching = threading.Condition()
        self._wanted_at = self._done_began = self._caught_up_at = -1e9
        self._catch_failed_at = -1e9
        self._catcher = False
        self._waiting = 0
        # Half the server's threads: the other half keep answering whatever catch-ups wait.
        self.max_waiting = max(1, settings.threads // 2)
        self._loaded = False
        self._events: tuple = ()
        self._follow_ups: tuple | None = None  # FollowUps.mark() at the last poll
        self.started_at = datetime.now(UTC)
        self.last_success: datetime | None = None
        self.last_error: str | None = None
        self.consecutive_failures = 0  # /health turns 503 after settings.health_failures
        self.last_poll_seconds = 0.0
        self.last_poll_rows = 0
        self._read_from: datetime | None = None  # start of the last successful poll
        self._outside_logged = False
        self.on_publish: list[Callable[[], object]] = []  # run in the poll job after a publish

    @property
    def snapshot(self) -> Snapshot:
        """The newest published snapshot (never mutated)."""
        return self._current[0]

    def current(self) -> tuple[Snapshot, tuple[int, int]]:
        """A screen's current version: the newest snapshot and this process's mark.

        The mark is (the database clock when the last good poll began, newest id read), in
        microseconds: every response committed before that time is in the snapshot. Marks
        come from the database's clock, not this process's or its counters, so they compare
        across workers *and* instances on one database: a screen that showed mark M never
        takes data from a process whose mark is below M (``app.live``). The mark moves on
        every good poll; the snapshot (and its ``version``) only when data changed.
        """
        return self._current

    def view(self, request: ViewRequest, now: datetime | None = None,
             snapshot: Snapshot | None = None) -> View:
        """The (cached) view of a snapshot (by default the current one) for a request."""
        s = self.settings
        return self.views.get(snapshot or self.snapshot, request, min_sample=s.min_sample,
                              tz=s.timezone, goal=s.goal, now=now, minimums=self.minimums)

    def poll(self, catching: bool = False) -> bool:
        """Fold in changed rows and events; publish and return True if anything changed.

        ``catching``: a catch-up's read (``catch_up``), whose failure is neither counted nor
        shown (/health judges the poll job's own reads) but pauses catch-ups a while; a
        catch-up never runs the due full collection (a screen's request waits for it)."""
        with self._lock:
            began = time.monotonic()
            changed = self._guarded_poll(catching)
        self._finished(began)
        self._publish(changed)
        if not catching and _collect_due:
            # A quiet moment: the round's pushes are out (20-150 ms), the next read is a poll
            # interval away. Only the requests that arrive meanwhile wait for it.
            time.sleep(min(self.settings.poll_seconds / 3, COLLECT_AFTER))
            collect_if_due()
        return changed

    def catch_up(self) -> bool:
        """Wait for a poll that began after this call, for a screen told of data this process
        may not have read yet (its poll reached here, the tick that told it another worker
        or instance: ``app.live``); True when one finished in time.

        The poll runs in a thread of its own (``_catch_up_loop``), never the caller's: the
        caller waits at most ``CATCH_UP_WAIT`` seconds however slow the store, then answers
        with what it has. Callers that arrive together share one poll; catch-up polls run at
        most one per ``CATCH_UP_GAP``, so stamps that never match cost a few reads a second,
        and at most ``max_waiting`` callers wait at once (the rest answer at once), so they
        cannot take every server thread. None while the store is failing, before the first
        load, or for ``CATCH_UP_BACKOFF`` after a catch-up's read failed: the poll job's
        business. The publish listeners (warming every screen's answer) run in that thread.
        """
        asked = time.monotonic()
        if not self._loaded or self.consecutive_failures:
            return False
        with self._catching:
            if (asked - self._catch_failed_at < CATCH_UP_BACKOFF
                    or self._waiting >= self.max_waiting):
                return False
            self._wanted_at = max(self._wanted_at, asked)
            if not self._catcher:
                self._catcher = True
                threading.Thread(target=self._catch_up_loop, name="nps-tv-catch-up",
                                 daemon=True).start()
            self._waiting += 1
            try:
                return self._catching.wait_for(lambda: self._done_began >= asked,
                                               CATCH_UP_WAIT)
            finally:
                self._waiting -= 1

    def _catch_up_loop(self) -> None:
        """Poll until a poll has begun after the newest catch-up request (or one failed),
        then stop. Publish listeners run here: none may call ``poll`` (``_publishing`` is
        not reentrant)."""
        while True:
            with self._catching:
                if (self._done_began >= self._wanted_at
                        or time.monotonic() - self._catch_failed_at < CATCH_UP_BACKOFF):
                    self._catcher = False
                    return
            time.sleep(max(0.0, self._caught_up_at + CATCH_UP_GAP - time.monotonic()))
            self._caught_up_at = time.monotonic()
            self.poll(catching=True)

    def _finished(self, began: float) -> None:
        """A poll that began at ``began`` (monotonic) finished: wake the catch-ups it serves."""
        with self._catching:
            self._done_began = max(self._done_began, began)
            self._catching.notify_all()

    def _guarded_poll(self, catching: bool = False) -> bool:
        """One poll, under ``_lock``: errors are counted and logged, never raised (a
        catch-up's only pauses catch-ups)."""
        started = time.perf_counter()
        try:
            changed = self._poll()
        except Exception as exc:  # the job must survive a database outage
            if catching:
                self._catch_failed_at = time.monotonic()
                log.debug("catch-up poll failed: %s", error_class(exc))
                return False
            # Only the class name is shown (/health, the wall): driver messages can name
            # hosts, users and SQL. The log gets one line: no SQL, no traceback.
            self.last_error = error_class(exc)
            self.consecutive_failures += 1
            log.warning("poll failed: %s: %s", self.last_error, first_line(exc))
            return False
        self.last_error = None
        self.consecutive_failures = 0
        self.last_success = datetime.now(UTC)
        self.last_poll_seconds = time.perf_counter() - started
        return changed

    def _publish(self, changed: bool) -> None:
        """Run the publish listeners, one publish at a time (a catch-up's poll runs in a
        thread of its own and may meet the poll job's), then ``settle_garbage``."""
        if not changed:
            return
        with self._publishing:
            for listener in self.on_publish:
                try:
                    listener()
                except Exception:  # a listener's bug must not stop the polling
                    log.exception("publish listener failed")
            settle_garbage()  # after the listeners: the parts they built live on too

    def _poll(self) -> bool:
        rollup = self.rollup
        started = datetime.now(UTC)
        # Taken before any read: whatever was committed before this instant is read below.
        clock = self.store.clock_micros()
        if not self._loaded:
            # The watermark is read first: anything committed during the bulk read is newer
            # than it, so the next poll reads it again rather than missing it.
            watermark = self.store.max_updated()
            rows = self.store.load_all()
            rollup.fold(rows)
            if watermark is not None:
                rollup.max_updated_micros = int(watermark.timestamp() * 1_000_000)
                rollup.bulk_mark = rollup.max_updated_micros
            rollup.seed_comments(self.store.newest_comments(
                self.settings.comments_keep, self.time_range.earliest, self.time_range.latest()))
            changed = True
        else:
            rows = self.store.changed_since(self._poll_start(), rollup.max_id)
            changed = rollup.fold(rows) > 0
        changed = rollup.admit_due() > 0 or changed
        self.last_poll_rows = len(rows)
        self._log_outside()
        events = tuple(self.store.list_events())
        if events != self._events:
            self._events = events
            changed = True
        changed = self._follow_ups_moved() or changed
        snapshot, previous = self._current
        mark = (max(clock, previous[0]), rollup.max_id)  # never backwards, whatever the clock
        if changed:
            fresh = rollup.snapshot(snapshot.version + 1, datetime.now(UTC), events)
            # What the change touched, found once here, lets the views it left alone be
            # carried over (``app.view_cache``) without keeping the old snapshot's arrays.
            # The counts that moved, once here too, let a touched view add them to its sums.
            touched = touched_combos(snapshot, fresh)
            snapshot = dataclasses.replace(fresh, mark=mark, touched=touched,
                                           delta=count_delta(snapshot, fresh, touched))
        self._current = (snapshot, mark)
        self._loaded = True
        self._read_from = started
        return changed

    @property
    def follow_ups_mark(self) -> tuple | None:
        """``FollowUps.mark()`` at the last poll (the same in every worker that read it)."""
        return self._follow_ups

    def _follow_ups_moved(self) -> bool:
        """Whether a follow-up status changed since the last poll (the wall's follow-up line
        counts them): a new version, as for events, so screens rebuild within one poll."""
        mark = FollowUps(self.store).mark()
        moved = self._follow_ups is not None and mark != self._follow_ups
        self._follow_ups = mark
        return moved

    def _poll_start(self) -> datetime:
        """Where this poll's read begins: the previous poll's start, minus the overlap."""
        return self._read_from - timedelta(seconds=self.settings.poll_overlap_seconds)

    def _log_outside(self) -> None:
        if self.rollup.outside and not self._outside_logged:
            self._outside_logged = True
            log.warning("%d stored responses lie outside the plausible time range and are "
                        "not counted (NPS_TV_EARLIEST_DATE, NPS_TV_FUTURE_HOURS)",
                        self.rollup.outside)

    def warnings(self) -> list[str]:
        """What the counts leave out or group, in words, for /health."""
        out = []
        if self.rollup.outside:
            out.append(f"{self.rollup.outside} stored responses lie outside the plausible "
                       f"time range ({self.settings.earliest_date} to now + "
                       f"{self.settings.future_hours:g} h) and are not counted")
        return out + self.rollup.segments.warnings()

    def age_seconds(self, now: datetime | None = None) -> float:
        """Seconds since the last good poll (since start while none has succeeded)."""
        since = self.last_success or self.started_at
        return ((now or datetime.now(UTC)) - since).total_seconds()

    def health(self) -> dict:
        """Poll status for /health: last success, snapshot age and version, failures in a
        row, and what the counts leave out (responses outside the time range, capped
        segment fields)."""
        now = datetime.now(UTC)
        age = (now - self.last_success).total_seconds() if self.last_success else None
        return {
            "poll_failures": self.consecutive_failures,
            "snapshot_version": self.snapshot.version,
            "snapshot_age_seconds": None if age is None else round(age, 3),
            "last_poll_error": self.last_error,
            "responses_loaded": self.snapshot.stored,
            "last_poll_ms": round(1000 * self.last_poll_seconds, 2),
            "last_poll_rows": self.last_poll_rows,
            "responses_outside_range": self.rollup.outside,
            "warnings": self.warnings(),
        }
