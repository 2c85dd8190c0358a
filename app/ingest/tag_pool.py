"""Tagging a bulk import in worker processes, ahead of the store's writes.

The store computes each response's topic-set key (its topics and the tone of each mention,
``app.tone.topic_key``) as it writes the row; on long real comments that is most of an import's
work, and one process uses one core. ``TagAhead`` forks worker processes that inherit the
store's tagger (a copy-on-write copy of the same objects: nothing is pickled but comments and
keys) and computes the keys of the next batches' comments while the store writes the current
batch. Before the store writes a batch it is told the batch's keys
(``Store.know_topic_keys``); it uses them only for comments nobody corrected and only while
its tagger is the one the workers copied, and tags every other comment itself, as before.

Nothing else moves: the workers compute a pure function and write nothing, so the store's one
transaction, its exactly-once keys and its all-or-nothing stay where they were (a refused or
failed import leaves the store as it was). A worker that fails (killed, out of memory) costs
only speed: from then on the store tags in this process. Workers ignore Ctrl-C; the import's
own process stops them when it ends, however it ends. Only on Linux (``fork``), and
only for a tagger that names its topics (``Store.topic_names``; the store's tagger when none
is configured names none).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from app.store import ResponseRecord, Store
from app.tone import analyser, topic_key

log = logging.getLogger(__name__)

MAX_WORKERS = 4
MIN_ROWS = 1_000  # below this an import tags in its own process (forking costs more)
AHEAD = 2  # batches tagged ahead of the one being written

_tagger: Callable[[str], Any] | None = None  # a worker's copy of the store's tagger


def default_workers(rows: int) -> int:
    """Worker processes for an import of ``rows``: one per CPU that nothing else is using
    (CPUs minus the 1-minute load average, rounded down; at most ``MAX_WORKERS``), none for
    small files, one CPU or a busy machine, where workers only contend with the import's own
    process (measured: 10-20% slower at a load of 8 on 2 CPUs)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if (cpus or 1) < 2 or rows < MIN_ROWS:
        return 0
    spare = cpus - os.getloadavg()[0] if hasattr(os, "getloadavg") else 0
    return max(0, min(MAX_WORKERS, int(spare)))


def keys_of(comments: Iterable[str], tag: Callable[[str], Iterable[str]]) -> dict[str, str]:
    """Each comment's topic-set key, exactly as ``Store.topic_key_for`` computes an
    uncorrected comment's: its topics by ``tag``, with the tone of each mention."""
    return {comment: topic_key(comment, list(tag(comment)), tag) for comment in comments}


def _start_worker(tagger: Callable[[str], Any]) -> None:
    global _tagger
    _tagger = tagger
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the importing process decides when to stop


def _work(comments: Sequence[str]) -> dict[str, str]:
    assert _tagger is not None, "a tagging worker runs _start_worker first"
    return keys_of(comments, _tagger)


class TagAhead:
    """A pool of tagging processes for one import (see the module docstring); a context
    manager: the workers stop when the ``with`` block ends."""

    def __init__(self, store: Store, workers: int):
        self.store = store
        self.tagger = store.tagger
        self.workers = workers
        self.pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> TagAhead:
        # A store whose tagger names no topics (none configured) has nothing worth a pool.
        # fork only on Linux: macOS offers it but its system libraries break in a forked child.
        if self.workers > 0 and self.store.topic_names and sys.platform.startswith("linux"):
            # Forked now, before the store opens its transaction, with VADER's lexicon read
            # (once, not once per worker); the first task proves that the workers run.
            analyser()
            pool = ProcessPoolExecutor(self.workers, multiprocessing.get_context("fork"),
                                       initializer=_start_worker, initargs=(self.tagger,))
            self.pool = pool
            try:
                pool.submit(_work, ()).result(timeout=60)
            except Exception as exc:  # any failure: tag in this process
                self._give_up(exc)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.store.know_topic_keys({}, None)
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    def batches(self, batches: Iterable[list[ResponseRecord]]
                ) -> Iterator[list[ResponseRecord]]:
        """``batches`` as they come, each after its comments' keys were handed to the store
        (the next ``AHEAD`` batches are tagged meanwhile)."""
        if self.pool is None:
            yield from batches
            return
        pending: deque[tuple[list[ResponseRecord], list[Future]]] = deque()
        for batch in batches:
            pending.append((batch, self._submit(batch)))
            if len(pending) > AHEAD:
                yield self._ready(*pending.popleft())
        while pending:
            yield self._ready(*pending.popleft())

    def _submit(self, batch: list[ResponseRecord]) -> list[Future]:
        if self.pool is None:
            return []
        comments = list(dict.fromkeys(r.comment for r in batch if r.comment))
        size = -(-len(comments) // self.workers) or 1
        try:
            return [self.pool.submit(_work, comments[i:i + size])
                    for i in range(0, len(comments), size)]
        except Exception as exc:  # a broken pool: tag in this process
            self._give_up(exc)
            return []

    def _ready(self, batch: list[ResponseRecord], futures: list[Future]
               ) -> list[ResponseRecord]:
        keys: dict[str, str] = {}
        try:
            for future in futures:
                keys.update(future.result())
        except Exception as exc:  # the store tags what did not come back
            self._give_up(exc)
        self.store.know_topic_keys(keys, self.tagger)
        return batch

    def _give_up(self, exc: BaseException) -> None:
        if self.pool is not None:
            log.warning("tagging processes failed (%s: %s); tagging in this process",
                        type(exc).__name__, exc)
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = None
