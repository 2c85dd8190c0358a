"""Ask cheaply: ``GET /api/v1/tick?<screen params>`` tells a wall screen whether its data
changed, without touching the store or building anything (issue 13).

The answer is a tiny JSON: the screen's *stamp*, the poller's health (when the last good
poll was, trouble) and the build id, with a strong ``ETag``; an unchanged answer is a bodiless
``304``. The seconds since the last good poll travel in the ``X-NPS-TV-Age`` header, so the
body (and its ETag) changes only when the data, the poll time or the build does.

The stamp (``app.stamps``) is a keyed BLAKE2b of what the screen's parts are built from: the
snapshot's data mark (newest ``updated_at`` and id, the same in every worker and instance that
has read the same rows, unlike the per-process ``version``), its event list and count total,
the follow-ups' mark (the wall's follow-up line), the local day and the screen's data key. The
key comes from the deployment's settings, so every worker and instance stamps the same data
alike, and a stamp reveals nothing about the data.

The page's script (assets/nps_ask.js) asks every ``ask_seconds`` and fetches its parts
through the Dash poll callback only when the stamp changes.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from flask import Blueprint, Response, request

from app import live_page
from app.live_status import build_status
from app.scopes import current_link
from app.services import get_services
from app.stamps import screen_stamp
from app.views import today_in

if TYPE_CHECKING:
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
    status = live_page.report_link(services, status or build_status(services), link)
    return tick_of(services, data_key, status)


def tick_of(services: Services, data_key: str, status: dict) -> tuple[dict, float | None]:
    """The tick of the screen with ``data_key`` from its ``status`` (``build_status``,
    reported against its link: ``live_page.report_link``)."""
    today = today_in(services.settings.timezone)
    body = {"stamp": screen_stamp(services, data_key, today),
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
