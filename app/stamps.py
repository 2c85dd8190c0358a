"""Stamps: a keyed digest of what one screen's parts are built from (issue 13).

The stamp of a screen is the same in every worker and instance that has read the same rows
(``app.ask`` sends it in the tick, ``app.ask_stream`` pushes it), so a page that was told a
stamp can name it in its poll, and a process whose own stamp differs reads the store before
answering (``app.live.catch_up``) instead of answering from older data.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import deque
from datetime import date
from typing import TYPE_CHECKING

from app.config import Settings

if TYPE_CHECKING:
    from app.rollup import Snapshot
    from app.services import Services

STAMP = re.compile(r"[0-9a-f]{24}")  # what ``Stamper.stamp`` makes: 12 bytes, hex
RECENT = 8  # snapshots whose stamps a process still recognises as passed (``Stamper.passed``)


def stamp_key(settings: Settings) -> bytes:
    """The stamps' key: the same for every worker and instance of one deployment."""
    secret = "\0".join(("nps-tv-ask", settings.resolved_database_url, settings.admin_token,
                        ",".join(settings.ingest_token.split(","))))
    return hashlib.blake2b(secret.encode(), digest_size=32).digest()


class Stamper:
    """Stamps of one snapshot: the snapshot's part is hashed once, then each screen's."""

    def __init__(self, key: bytes):
        self.key = key
        self._lock = threading.Lock()
        self._base: tuple[int, int, bytes] = (-1, -1, b"")  # (id(snapshot), day, digest)
        self._held: Snapshot | None = None  # keeps id(snapshot) from being reused
        # (base, events and follow-ups digest) of snapshots stamped here, the current last
        self._recent: deque[tuple[bytes, bytes]] = deque(maxlen=RECENT)

    def base(self, snapshot: Snapshot, today: date, extra: object = None) -> bytes:
        """The keyed digest of what every screen's parts of ``snapshot`` are built from
        (``extra``: what the parts read beside the snapshot, the follow-ups' mark; a change
        of it publishes a new snapshot, so the cache by snapshot holds)."""
        ident, day, digest = self._base
        if ident == id(snapshot) and day == today.toordinal():
            return digest
        h = hashlib.blake2b(key=self.key, digest_size=16)
        total = int(snapshot.counts.sum()) if snapshot.counts.size else 0
        h.update(repr((snapshot.data_mark, snapshot.stored, total, today.toordinal(),
                       len(snapshot.comments), extra)).encode())
        h.update(repr(snapshot.events).encode())
        digest = h.digest()
        # What may go back as well as forward (events edited back, a follow-up undone): only
        # a snapshot that agrees on it with a newer one is behind it (``passed``).
        side = hashlib.blake2b(repr((snapshot.events, extra)).encode(), digest_size=8).digest()
        with self._lock:
            self._base, self._held = (id(snapshot), today.toordinal(), digest), snapshot
            entry = (digest, side)
            if entry in self._recent:
                self._recent.remove(entry)
            self._recent.append(entry)  # the current one last
        return digest

    def stamp(self, snapshot: Snapshot, today: date, data_key: str,
              extra: object = None) -> str:
        """The stamp of one screen (its data key) in ``snapshot`` on ``today``."""
        return self._of(self.base(snapshot, today, extra), data_key)

    def passed(self, told: str, data_key: str) -> bool:
        """Whether ``told`` is the screen's stamp in one of the last snapshots this process
        stamped before its current one, with the same events and follow-ups: its data (whose
        mark only moves forward) is older, so this process is past what the page was told.

        Events and follow-ups can return to an earlier state: a stamp equal to an earlier
        snapshot's with other events may be newer than this process's (told by a worker that
        read the edit back), and is not taken as passed."""
        with self._lock:
            *older, current = self._recent or [(b"", b"")]
        return any(side == current[1] and self._of(base, data_key) == told
                   for base, side in older)

    def _of(self, base: bytes, data_key: str) -> str:
        h = hashlib.blake2b(base, key=self.key, digest_size=12)
        h.update(data_key.encode())
        return h.hexdigest()


def stamper(services: Services) -> Stamper:
    """The app's stamper (made on first use; its key depends on the settings only)."""
    found = getattr(services, "_ask_stamper", None)
    if found is None:
        found = Stamper(stamp_key(services.settings))
        services._ask_stamper = found  # noqa: SLF001 - one per app, beside the services
    return found


def screen_stamp(services: Services, data_key: str, today: date) -> str:
    """The stamp of the screen with ``data_key`` in this process's current snapshot."""
    poller = services.poller
    return stamper(services).stamp(poller.snapshot, today, data_key, poller.follow_ups_mark)
