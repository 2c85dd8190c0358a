"""The wall's Dash poll answered from bytes made once per change (issue 13).

With one response a second, every wall screen's stamp changes every second and each screen
runs its Dash poll once a second: at 1,000 screens, 1,000 polls a second on two cores. Through
Dash's dispatch each cost 2-3 ms of CPU after a change (profiled: the part diffs, then Dash
encoding the patches with Plotly's encoder, the callback context), and all of them arrive
within the same second of a change, so every request, the ticks too, waited behind them.

Here a ``before_request`` hook, registered after the gate and the Dash guard (so a refused
link or a hostile body never reaches it), answers the wall's poll itself with exactly what
the Dash callback would send (``tests/test_poll_answer.py`` compares them), from bytes built
once per change and shared (``app.poll_bytes``, which the tick stream pushes too).

When the poller publishes, ``warm`` builds the bytes for the step every recently active
screen is about to ask for (from the fingerprints it was last sent), so the request path
is a lookup. A screen that lands here from another worker (unknown fingerprints) gets whole
parts, as before; one that is ahead of this process gets only the status (never older data).

A browser that takes gzip gets the answer gzipped (``app.compression.gzip_join``): the start
every screen in one place shares is compressed once, and only the screen's own few hundred
bytes per answer. A screen's first answer after a start (its parts whole, ~75 KB) is ~10 KB.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from dash import Dash
from flask import Response, g, request

from app import live, live_page, poll_bytes
from app.compression import MIN_BYTES, accepts_gzip, answer_as_is, gzip_join
from app.dash_guard import UPDATE_ROUTE, client_query, client_state
from app.parts import warm_seconds
from app.poll_bytes import fragment
from app.views import today_in

if TYPE_CHECKING:
    from app.live_page import LivePage
    from app.services import Services

log = logging.getLogger(__name__)


def answer_pieces(services: Services, page: LivePage, config: Any, state: Any
                  ) -> tuple[bytes, bytes]:
    """What the page's poll callback answers (``live_page.run_poll`` through Dash), as
    bytes in two pieces whose sum is the answer: the start every screen in one place shares
    (the changed parts) and this screen's own (its new state and the status)."""
    live_page.require_surface(page.surface)
    screen = live_page.screen_for(services, client_query(config))
    today = today_in(services.settings.timezone)
    status = live.caught_up_status(services, screen, today,
                                   request.headers.get(live.TOLD_HEADER))
    start, own, _ = poll_bytes.answer_pieces(services, page, screen, page.part_names(screen),
                                             client_state(state),
                                             live_page.report_screen(services, status),
                                             note=live.builds_ahead(request.headers))
    return start, own


def warm(services: Services, page: LivePage) -> int:
    """Build the bytes every recently active screen of ``page`` will ask for next (from the
    fingerprints it was last sent to the current snapshot's); run right after a publish,
    after ``parts.prewarm``. Returns how many were built or found."""
    book = services.answers
    today = today_in(services.settings.timezone)
    snapshot = services.poller.snapshot
    warmed = 0
    for screen, names in services.screens.within(warm_seconds(services)):
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
        start, own = answer_pieces(services, page, config, state)
        # Final: a client without gzip gets it as it is, not compressed whole per answer.
        answer_as_is()
        if (len(start) + len(own) < MIN_BYTES or services.settings.compress != "all"
                or not accepts_gzip(request)):
            return Response(start + own, content_type="application/json")
        response = Response(gzip_join(start, own), content_type="application/json")
        response.headers["Content-Encoding"] = "gzip"  # Vary: compression's hook adds it
        return response
