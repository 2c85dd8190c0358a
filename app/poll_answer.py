"""The wall's Dash poll answered from bytes made once per change (issue 13).

With one response a second, every wall screen's stamp changes every second and each screen
runs its Dash poll once a second: at 1,000 screens, 1,000 polls a second on two cores. Through
Dash's dispatch each cost 2-3 ms of CPU after a change (profiled: the part diffs, then Dash
encoding the patches with Plotly's encoder, the callback context), and all of them arrive
within the same second of a change, so every request, the ticks too, waited behind them.

Here a ``before_request`` hook, registered after the gate and the Dash guard (so a refused
link or a hostile body never reaches it), answers the wall's poll itself with exactly what
the Dash callback would send (``tests/test_poll_answer.py`` compares them):

- the parts' outputs, as JSON bytes built once per (snapshot version, day, screen data key,
  part names, the part fingerprints the screen has) and shared by every screen in that place
  (``services.answers``, a ``part_cache.AnswerBook``); the first thread to need one builds
  it, the others wait for it;
- the screen's new state and the status, a few hundred bytes written per request.

When the poller publishes, ``warm`` builds the bytes for the step every recently active
screen is about to ask for (from the fingerprints it was last sent), so the request path
is a lookup. A screen that lands here from another worker (unknown fingerprints) gets whole
parts, as before; one that is ahead of this process gets only the status (never older data).
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from dash import Dash, no_update
from dash._utils import stringify_id
from flask import Response, g, request

from app import live, live_page
from app.dash_guard import UPDATE_ROUTE, client_query, client_state
from app.part_patch import dumps
from app.views import today_in

if TYPE_CHECKING:
    from app.live_page import LivePage
    from app.screen import ScreenConfig
    from app.services import Services

log = logging.getLogger(__name__)

def encode_parts(page: LivePage, sent: dict[str, Any]) -> bytes:
    """The part outputs of an answer as Dash writes them inside ``"response"``: one
    ``"<id>":{"<property>":<value>}`` per part that is not ``no_update``, in output order."""
    items = []
    for panel in page.parts():
        value = sent.get(panel.part_name(page.surface), no_update)
        if value is no_update:
            continue
        ident, prop = page.target(panel)
        if hasattr(value, "to_plotly_json"):  # a Patch
            value = value.to_plotly_json()
        items.append(f"{json.dumps(stringify_id(ident))}:{{{json.dumps(prop)}:"
                     f"{dumps(value, ensure_ascii=False, separators=(',', ':'))}}}")
    return ",".join(items).encode()


def fragment(services: Services, page: LivePage, screen: ScreenConfig,
             names: tuple[str, ...], known: dict[str, str],
             now: tuple[Any, Any]) -> tuple[bytes, str, dict[str, str]]:
    """The encoded part outputs for a screen that has ``known`` (``now``: the snapshot and
    the day), from the book or built once."""
    snapshot, today = now
    key = (snapshot.version, today.toordinal(), screen.data_key, names,
           tuple(known.get(name) for name in names))

    def build() -> tuple[bytes, str, dict[str, str]]:
        token, sent, hashes = live.changed_parts(services, snapshot, screen, names, today,
                                                 known, patch=True)
        return encode_parts(page, sent), token, hashes

    return services.answers.get(key, build)


def answer(services: Services, page: LivePage, config: Any, state: Any) -> bytes:
    """What the page's poll callback answers (``live_page.run_poll`` through Dash), as
    bytes: the changed parts, the new state and the status."""
    live_page.require_surface(page.surface)
    screen = live_page.screen_for(services, client_query(config))
    state = client_state(state)
    names = page.part_names(screen)
    today = today_in(services.settings.timezone)
    status = live.caught_up_status(services, screen, today,
                                   request.headers.get(live.TOLD_HEADER))
    snapshot, mark = services.poller.current()
    services.screens.note(screen, names)
    body = b""
    if not live.has_newest(snapshot, mark, today, screen, state):
        parts, token, hashes = fragment(services, page, screen, names,
                                        live.known_hashes(state), (snapshot, today))
        new_state = json.dumps(live.new_state(token, screen, mark, hashes),
                               separators=(",", ":"))
        body = parts + (b"," if parts else b"") + _output(page.ids.state, new_state)
    status = json.dumps(live_page.report_screen(services, status), separators=(",", ":"))
    body += (b"," if body else b"") + _output(page.ids.status, status)
    return b'{"multi":true,"response":{' + body + b"}}"


def _output(ident: str, data: str) -> bytes:
    return f'{json.dumps(ident)}:{{"data":{data}}}'.encode()


def warm(services: Services, page: LivePage) -> int:
    """Build the bytes every recently active screen of ``page`` will ask for next (from the
    fingerprints it was last sent to the current snapshot's); run right after a publish,
    after ``parts.prewarm``. Returns how many were built or found."""
    book = services.answers
    today = today_in(services.settings.timezone)
    snapshot = services.poller.snapshot
    warmed = 0
    for screen, names in services.screens.recent():
        known = book.newest(screen.data_key, names)
        if known is None or names != page.part_names(screen):
            continue  # never answered here, or another page's screen
        try:
            fragment(services, page, screen, names, known, (snapshot, today))
            warmed += 1
        except Exception:  # one bad screen must not keep the others cold
            log.exception("could not prepare the answer of %s", screen.data_key)
    return warmed


def poll_key(dash_app: Dash, page: LivePage) -> str:
    """The Dash callback id of the page's poll (the one whose outputs hold its state)."""
    want = f"..{page.ids.state}.data..."
    return next(key for key in dash_app.callback_map if want in key)


def install(dash_app: Dash, page: LivePage, services: Services) -> None:
    """Answer ``page``'s poll before Dash's dispatch. Register after the gate and the Dash
    guard: their hooks run first, in registration order."""
    key = poll_key(dash_app, page)
    path = dash_app.config.routes_pathname_prefix + UPDATE_ROUTE
    server = dash_app.server
    services.poller.on_publish.append(lambda: warm(services, page))

    @server.before_request
    def answer_poll():
        if request.method != "POST" or request.path != path:
            return None
        body = g.get("dash_body")
        if not isinstance(body, dict) or body.get("output") != key:
            return None
        config, state = (item.get("value") for item in body["state"])
        data = answer(services, page, config, state)
        return Response(data, content_type="application/json")
