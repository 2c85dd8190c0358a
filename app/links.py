"""Share links as each worker sees them: a cache of the store's links refreshed every poll
interval (so a revocation anywhere reaches every screen within one poll), token resolution in
constant time, last-seen facts gathered in memory and written at most every ``TOUCH_SECONDS``
per link, and the reload stamps pages read.

Nothing here runs SQL on a screen's request path except a cache miss (a token this worker has
not seen yet, e.g. a link created a second ago in another process); the gate throttles those
per client, so forged tokens cannot turn into a stream of queries.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from app.store import StoreUnavailable
from app.store.links import (
    ADMIN_SESSIONS_ENDED,
    RELOAD_ALL,
    ShareLinkRow,
    ShareLinks,
    hash_token,
)

log = logging.getLogger(__name__)
TOUCH_SECONDS = 30.0  # a link's last-seen row is written at most this often per worker
KEEP = object()  # touch(): leave this fact as it was
USER_AGENT_MAX = 300
BUILD_MAX = 100
TROUBLE_MAX = 500


@dataclass(frozen=True)
class Resolution:
    """What a token turned out to be: ``ok`` with its link, or why not."""

    reason: str  # ok | unknown | revoked | expired | unavailable
    link: ShareLinkRow | None = None

    @property
    def ok(self) -> bool:
        return self.reason == "ok"


class LinkBook:
    """One worker's view of the share links (see the module docstring)."""

    def __init__(self, links: ShareLinks, refresh_seconds: float = 3.0,
                 touch_seconds: float = TOUCH_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.links = links
        self.refresh_seconds = max(0.5, refresh_seconds)
        self.touch_seconds = touch_seconds
        self.clock = clock
        self._by_hash: dict[str, ShareLinkRow] = {}
        self._by_id: dict[int, ShareLinkRow] = {}
        self._reload_all: datetime | None = None
        self._admin_ended: datetime | None = None
        self._loaded_at: float | None = None
        self._refreshing = threading.Lock()
        self._touch_lock = threading.Lock()
        self._pending: dict[int, dict] = {}
        self._written: dict[int, float] = {}
        self._known: dict[int, dict] = {}  # the facts this worker wrote last, per link

    # -- the cache --------------------------------------------------------------------------

    def refresh(self, force: bool = False) -> None:
        """Reload every link from the store when the cache is older than the poll interval.

        One thread refreshes; the others go on with the previous copy. When the store is
        unavailable the previous copy stays (logged), so screens keep what they had.
        """
        loaded = self._loaded_at
        if not force and loaded is not None and self.clock() - loaded < self.refresh_seconds:
            return
        if not self._refreshing.acquire(blocking=force or loaded is None):
            return
        try:
            rows = self.links.list_links()
            stamps = self.links.stamps()
            self._by_hash = {row.token_hash: row for row in rows}
            self._by_id = {row.id: row for row in rows}
            self._reload_all = stamps.get(RELOAD_ALL)
            self._admin_ended = stamps.get(ADMIN_SESSIONS_ENDED)
        except StoreUnavailable as exc:
            log.warning("share links: keeping the cached copy; store unavailable: %s",
                        exc.one_line())
        finally:
            self._loaded_at = self.clock()
            self._refreshing.release()

    def resolve(self, token: str, *, allow_lookup: bool = True,
                now: datetime | None = None) -> Resolution:
        """The link a token belongs to and whether it may be used now.

        ``allow_lookup=False`` answers from the cache only (``unknown`` on a miss); the gate
        asks again with a lookup once it has checked the client is not throttled.
        """
        if not token or len(token) > 200:
            return Resolution("unknown")
        self.refresh()
        wanted = hash_token(token)
        row = self._by_hash.get(wanted)
        if row is None and allow_lookup:
            try:
                row = self.links.by_hash(wanted)
            except StoreUnavailable:
                return Resolution("unavailable")
            if row is not None:
                self._by_hash[row.token_hash] = row
                self._by_id[row.id] = row
        # The dict finds the row by hash; this compares the hash in constant time anyway.
        if row is None or not hmac.compare_digest(row.token_hash, wanted):
            return Resolution("unknown")
        state = row.state(now)
        return Resolution("ok" if state == "active" else state, row)

    def admin_sessions_ended(self) -> datetime | None:
        """When an admin last signed out: admin sessions issued before are over (cached, so
        a sign-out ends the sessions of other workers and instances within the refresh)."""
        self.refresh()
        return self._admin_ended

    def end_admin_sessions(self, now: datetime | None = None) -> None:
        """Sign every admin browser out (``POST /admin/logout``)."""
        self.links.set_stamp(ADMIN_SESSIONS_ENDED, now)
        self.refresh(force=True)

    def get(self, link_id: int) -> ShareLinkRow | None:
        """A cached link by id (None when unknown to this worker)."""
        self.refresh()
        return self._by_id.get(link_id)

    # -- reloads ----------------------------------------------------------------------------

    def reload_requested_at(self, link_id: int | None = None) -> datetime | None:
        """When the screens of ``link_id`` (or every screen, with None) were last asked to
        reload: the later of the fleet-wide stamp and the link's own. Cached, no SQL."""
        self.refresh()
        stamps = [self._reload_all]
        if link_id is not None:
            row = self.get(link_id)
            stamps.append(row.reload_requested_at if row is not None else None)
        present = [s for s in stamps if s is not None]
        return max(present) if present else None

    # -- last seen --------------------------------------------------------------------------

    def touch(self, link_id: int, user_agent: str | None = None, build: object = KEEP,
              trouble: object = KEEP, now: datetime | None = None) -> None:
        """Note that a link's screen was seen (in memory; ``flush`` writes it)."""
        with self._touch_lock:
            facts = self._pending.setdefault(link_id, self._stored_facts(link_id))
            facts["last_seen_at"] = now or datetime.now(UTC)
            if user_agent is not None:
                facts["last_user_agent"] = user_agent[:USER_AGENT_MAX]
            if build is not KEEP:
                facts["last_build"] = None if build is None else str(build)[:BUILD_MAX]
            if trouble is not KEEP:
                facts["last_trouble"] = str(trouble)[:TROUBLE_MAX] if trouble else None

    def _stored_facts(self, link_id: int) -> dict:
        if link_id in self._known:
            return dict(self._known[link_id])
        row = self._by_id.get(link_id)
        return {"id": link_id,
                "last_user_agent": row.last_user_agent if row else None,
                "last_build": row.last_build if row else None,
                "last_trouble": row.last_trouble if row else None}

    def flush(self, force: bool = False) -> int:
        """Write the facts of links last written ``touch_seconds`` ago or more; returns how
        many rows were written. Runs in the scheduler, never on a screen's request."""
        now = self.clock()
        with self._touch_lock:
            due = [facts for link_id, facts in self._pending.items()
                   if force or now - self._written.get(link_id, -1e18) >= self.touch_seconds]
            for facts in due:
                del self._pending[facts["id"]]
        if not due:
            return 0
        try:
            written = self.links.write_touches(due)
        except StoreUnavailable as exc:
            log.warning("share links: last-seen not written: %s", exc.one_line())
            with self._touch_lock:  # keep them for the next flush, unless newer ones came
                for facts in due:
                    self._pending.setdefault(facts["id"], facts)
            return 0
        with self._touch_lock:
            for facts in due:
                self._written[facts["id"]] = now
                self._known[facts["id"]] = facts
        return written
