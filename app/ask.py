"""Ask cheaply: ``GET /api/v1/tick?<screen params>`` tells a wall screen whether its data
changed, without touching the store or building anything (issue 13).

The answer is a tiny JSON: the screen's *stamp*, the poller's health (when the last good
poll was, trouble) and the build id, with a strong ``ETag``; an unchanged answer is a bodiless
``304``. The seconds since the last good poll travel in the ``X-NPS-TV-Age`` header, so the
body (and its ETag) changes only when the data, the poll time or the build does.

The stamp is a keyed BLAKE2b of what the screen's parts are built from: the snapshot's data mark
(newest ``updated_at`` and id, the same in every worker and instance that has read the same
rows, unlike the per-process ``version``), its event list and count total, the follow-ups'
mark (the wall's follow-up line), the local day and the screen's data key. The key comes
from the deployment's settings, so every worker and instance stamps the same data alike, and
a stamp reveals nothing about the data.

The page's script (assets/nps_ask.js) asks every ``ask_seconds`` and fetches its parts
through the Dash poll callback only when the stamp changes.
"""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import date
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from flask import Blueprint, Response, request

from app import live_page
from app.config import Settings
from app.live_status import build_status
from app.scopes import current_link
from app.services import get_services
from app.views import today_in

if TYPE_CHECKING:
    from app.rollup import Snapshot
    from app.services import Services
    from app.store.links import ShareLinkRow

ASK_PATH = "/api/v1/tick"
STREAM_PATH = ASK_PATH + "/stream"  # the same ticks pushed (app/ask_stream.py)
AGE_HEADER = "X-NPS-TV-Age"


def ask_path(query: dict[str, str]) -> str:
    """The tick address of a screen: ``ASK_PATH`` with its public URL query."""
    return f"{ASK_PATH}?{urlencode(query)}" if query else ASK_PATH


def stream_path(query: dict[str, str]) -> str:
    """The tick stream's address of a screen."""
    return f"{STREAM_PATH}?{urlencode(query)}" if query else STREAM_PATH


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
        with self._lock:
            self._base, self._held = (id(snapshot), today.toordinal(), digest), snapshot
        return digest

    def stamp(self, snapshot: Snapshot, today: date, data_key: str,
              extra: object = None) -> str:
        """The stamp of one screen (its data key) in ``snapshot`` on ``today``."""
        h = hashlib.blake2b(self.base(snapshot, today, extra), key=self.key, digest_size=12)
        h.update(data_key.encode())
        return h.hexdigest()


def stamper(services: Services) -> Stamper:
    """The app's stamper (made on first use; its key depends on the settings only)."""
    found = getattr(services, "_ask_stamper", None)
    if found is None:
        found = Stamper(stamp_key(services.settings))
        services._ask_stamper = found  # noqa: SLF001 - one per app, beside the services
    return found


def answer(services: Services, query: dict[str, str]) -> tuple[dict, float | None]:
    """The tick of one screen: its body, and the seconds since the last good poll."""
    screen = live_page.screen_for(services, query)  # OutOfScope: a 403 naming the field
    live_page.require_surface("wall")
    return answer_for(services, screen.data_key, current_link())


def answer_for(services: Services, data_key: str, link: ShareLinkRow | None,
               status: dict | None = None) -> tuple[dict, float | None]:
    """The tick of the screen with ``data_key`` under ``link`` (its share link, or None), outside
    any request too (``app.ask_stream`` pushes it); ``status``: ``build_status`` if already
    made."""
    today = today_in(services.settings.timezone)
    status = live_page.report_link(services, status or build_status(services), link)
    poller = services.poller
    stamp = stamper(services).stamp(poller.snapshot, today, data_key, poller.follow_ups_mark)
    body = {"stamp": stamp,
            "ok": status["ok"], "hhmm": status["hhmm"], "trouble": status["trouble"],
            "error": status["error"], "build": services.build_id}
    if status.get("reload"):
        body["reload"] = status["reload"]
    return body, status["age"]


def etag_of(body: bytes) -> str:
    """A strong ETag: the body's hash."""
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def matches(header: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``etag`` (or is ``*``)."""
    if not header:
        return False
    given = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in given or etag in given


def build_blueprint() -> Blueprint:
    """The blueprint with ``GET /api/v1/tick`` (gated like the wall: a refused share link
    gets the gate's 401/403 with ``X-NPS-TV-Link``, which the page's script shows)."""
    bp = Blueprint("nps_ask", __name__)

    @bp.get(ASK_PATH)
    def tick():
        services = get_services()
        query = {k: v for k, v in request.args.items() if isinstance(v, str)}
        body, age = answer(services, query)
        data = json.dumps(body, separators=(",", ":")).encode()
        etag = etag_of(data)
        headers = {"ETag": etag, "Cache-Control": "private, no-cache",
                   AGE_HEADER: "" if age is None else f"{age:.2f}"}
        if matches(request.headers.get("If-None-Match"), etag):
            return Response(status=304, headers=headers)
        return Response(data, status=200, mimetype="application/json", headers=headers)

    return bp
