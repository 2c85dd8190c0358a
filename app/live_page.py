"""The scaffold both live pages (the wall at /tv, the manager view at /) are built on: their
component ids, the stores and intervals, a panel's body, the one poll callback and the
client-side status and figure callbacks. A page adds only what is its own (the wall's
rotation and gong, the manager's controls).

Every panel comes from ``app.panels.registry``: a page never lists panels itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dash import ClientsideFunction, Dash, Input, Output, State, dcc, html, no_update
from dash.dependencies import DashDependency
from flask import has_request_context, request

from app import live, live_status
from app.dash_guard import client_state
from app.live_status import SAFETY_NET_SECONDS
from app.panels.registry import Panel, panel_names, panels, parts
from app.scopes import OutOfScope, current_link, request_scope, scoped_args
from app.screen import ScreenConfig, parse_screen

if TYPE_CHECKING:
    from app.services import Services
    from app.store.links import ShareLinkRow

URL_ID = "page-url"  # the page shell's dcc.Location, which both pages read and write
PAGE_ID = "page-content"


class PageIds:
    """The component ids of one page, all starting with its prefix (``tv``, ``mgr``)."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.root, self.poll, self.tick, self.config, self.state, self.status = (
            f"{prefix}-{name}" for name in ("root", "poll", "tick", "config", "state", "status"))
        self.updated, self.clock, self.connection, self.notice, self.ask = (
            f"{prefix}-{name}" for name in ("updated", "clock", "connection", "notice", "ask"))

    def body(self, name: str) -> str:
        """The element a component panel's children go into."""
        return f"{self.prefix}-{name}-body"

    def graph(self, name: str) -> str:
        """The graph of a figure panel."""
        return f"{self.prefix}-{name}-graph"

    def figure(self, name: str) -> str:
        """The store a figure panel's figure arrives in (scaled in the browser, then drawn)."""
        return f"{self.prefix}-{name}-figure"

    def store(self, name: str) -> str:
        """The store an overlay's data arrives in."""
        return f"{self.prefix}-{name}"

    def data(self, name: str) -> str:
        """The store a drawn panel's data arrives in (``Panel.drawn``)."""
        return f"{self.prefix}-{name}-data"


@dataclass(frozen=True)
class LivePage:
    """One live page: its ids, its surface (``wall`` or ``manager``), how figures scale."""

    ids: PageIds
    surface: str
    scale: str  # "viewport" (the wall fills the screen) or "manager" (a smaller grid)
    every_panel: bool  # True: shows all panels whatever ``?panels=`` says
    asks: bool = False  # True: polls when its tick's stamp changes (app/ask.py), else timed
    ticks: bool = True  # True: has a tick Interval that nps_tv.js bumps when its status moves

    def parts(self) -> tuple[Panel, ...]:
        """The panels and overlays of this page, in the poll callback's output order."""
        return parts(self.surface)

    def output_names(self) -> tuple[str, ...]:
        """The names of the poll callback's part outputs, in order."""
        return tuple(panel.name for panel in self.parts())

    def part_names(self, screen: ScreenConfig) -> tuple[str, ...]:
        """The part cache names this page needs for ``screen`` (never a panel its link
        hides)."""
        return tuple(panel.part_name(self.surface) for panel in self.parts()
                     if panel.overlay or panel.name in screen.panels
                     or (self.every_panel and panel.name not in screen.hidden))

    def target(self, panel: Panel) -> tuple[str, str]:
        """The (id, property) a panel's part is sent to."""
        if panel.overlay:
            return self.ids.store(panel.name), "data"
        if panel.figure:
            return self.ids.figure(panel.name), "data"
        if self.draws(panel):
            return self.ids.data(panel.name), "data"
        return self.ids.body(panel.name), "children"

    def draws(self, panel: Panel) -> bool:
        """Whether this page draws ``panel`` from data itself (``Panel.drawn``; a figure or
        an overlay has a store and a drawing of its own)."""
        return self.surface in panel.drawn and not (panel.figure or panel.overlay)

    def poll_outputs(self, extra: Sequence[tuple[str, str]] = ()) -> list[tuple[str, str]]:
        """Every (id, property) the poll callback returns, in order."""
        ids = self.ids
        return [*(self.target(p) for p in self.parts()), *extra, (ids.state, "data"),
                (ids.status, "data")]


def screen_for(services: Services, query: Mapping[str, str]) -> ScreenConfig:
    """The screen a page request may show: its query under the request's share link (a wall
    link's pinned screen, a manager link's segments, comments hidden where the link says).

    A wall link's own screen sends its pinned values; a request naming segment values beyond
    them was edited to see more and is refused (``OutOfScope``, a 403 naming the field).
    """
    scope = request_scope()
    if scope is not None and scope.pinned:
        scoped_args(query, scope, services.settings.segment_fields)  # raises when wider
    return parse_screen(query, services.settings, scope)


def build_config(page: LivePage, services: Services, query: dict[str, str],
                 **extra: Any) -> dict:
    """What the page's browser script reads: the panel names, timings, the URL query."""
    settings = services.settings
    return {"query": query, "names": list(panel_names()),
            "skip_empty": [p.name for p in panels() if p.skip_when_empty],
            "stale": settings.stale_seconds,
            "poll": settings.poll_seconds, "lost_after": max(3 * settings.poll_seconds, 10.0),
            "tz": settings.timezone, "scale": page.scale, "prefix": page.ids.prefix,
            "tick": page.ids.tick if page.ticks else None, **extra}


def build_frame(page: LivePage, services: Services, config: dict,
                first: live.Update) -> list[Any]:
    """The non-visual part of a live page: its intervals and stores, holding the first data."""
    ids = page.ids
    stores = [dcc.Store(id=page.target(p)[0], data=first.parts.get(p.part_name(page.surface)))
              for p in page.parts() if p.figure or p.overlay or page.draws(p)]
    # An asking page's asks trigger its polls, and assets/nps_ask.js runs its safety net
    # (SAFETY_NET_SECONDS after its last poll, and a random part of half that more): a timed
    # poll here fired every 30 s from the page's load, so a fleet opened together (TVs on
    # one timer, a benchmark's warm-up) polled together, 1,000 screens in one second, and
    # the pushes of a change that fell on it were held up to 300 ms (bench_viewers).
    poll_ms = (int(SAFETY_NET_SECONDS * 1000) if page.asks
               else live_status.screen_poll_ms(services.settings))
    asked = [dcc.Store(id=ids.ask, data=None)] if page.asks else []
    # Never fires by itself: assets/nps_tv.js bumps it when the page's status changes (the
    # manager's workspace waits for it). The wall has none: it rotates, keeps its clock and
    # staleness and ends its gong in the browser alone, with no Dash callback.
    ticked = [dcc.Interval(id=ids.tick, interval=1000, disabled=True)] if page.ticks else []
    return [
        dcc.Interval(id=ids.poll, interval=poll_ms, disabled=page.asks),
        *asked,
        *ticked,
        dcc.Store(id=ids.config, data=config),
        dcc.Store(id=ids.state, data=first.state),
        dcc.Store(id=ids.status, data=first.status),
        *stores,
    ]


def build_body(page: LivePage, panel: Panel, payload: Any) -> Any:
    """A panel's body: a graph for a figure panel, else a div holding its components (none
    for a panel the page draws itself: ``LivePage.draws``)."""
    if panel.figure:
        static = page.surface == "wall"  # nobody hovers or zooms a wall
        return dcc.Graph(
            id=page.ids.graph(panel.name), className=f"{page.ids.prefix}-graph",
            figure=payload or {"data": [], "layout": {}}, responsive=True,
            style={"height": "100%", "width": "100%"},
            config={"displayModeBar": False, "staticPlot": static, "responsive": True})
    return html.Div(None if page.draws(panel) else payload, id=page.ids.body(panel.name),
                    className=f"panel-body {panel.name}-panel")


def first_payload(page: LivePage, first: live.Update, panel: Panel) -> Any:
    """The part of the first update that a panel shows (None when the page does not)."""
    return first.parts.get(panel.part_name(page.surface))


def run_poll(page: LivePage, services: Services, screen: ScreenConfig, state: Any,
             extra: Callable[[live.Update], list] = lambda _update: []) -> list:
    """One poll of a page: every part output (``no_update`` when unchanged), ``extra``'s
    outputs, then the client state and the status."""
    require_surface(page.surface)
    asked = has_request_context()
    told = request.headers.get(live.TOLD_HEADER) if asked else None
    update = live.compute_update(services, screen, client_state(state), page.part_names(screen),
                                 patch=page.asks, told=told,
                                 note=not asked or live.builds_ahead(request.headers))
    sent = [update.parts.get(p.part_name(page.surface), no_update) for p in page.parts()]
    return [*sent, *extra(update), update.state, report_screen(services, update.status)]


def require_surface(surface: str) -> None:
    """Refuse a wall link on the manager page's callbacks (it shows its wall only)."""
    scope = request_scope()
    if scope is not None and scope.pinned and surface != "wall":
        raise OutOfScope("link", "a wall link shows its wall only")


def report_screen(services: Services, status: dict) -> dict:
    """Note the poll against the request's share link (its build and any trouble, for the
    Screens list) and add ``reload``: when the screen was last asked to reload (epoch ms)."""
    return report_link(services, status, current_link())


def report_link(services: Services, status: dict, link: ShareLinkRow | None) -> dict:
    """``report_screen`` for ``link`` (also outside a request: a pushed tick)."""
    book = services.links
    if book is None:
        return status
    if link is not None:
        book.touch(link.id, build=services.build_id,
                   trouble=status.get("error") or "trouble" if status.get("trouble") else None)
    stamp = book.reload_requested_at(link.id if link is not None else None)
    return {**status, "reload": int(stamp.timestamp() * 1000)} if stamp else status


def register_poll(dash_app: Dash, page: LivePage, services: Services,
                  run: Callable[..., list], *, inputs: Sequence[DashDependency] = (),
                  extra_outputs: Sequence[tuple[str, str]] = ()) -> None:
    """The page's one server callback: ``run(services, config, state, *input values)``
    on every poll and whenever one of ``inputs`` changes."""
    ids = page.ids
    outputs = [Output(i, prop) for i, prop in page.poll_outputs(extra_outputs)]

    # An asking page polls when its ask store changes too (assets/nps_ask.js writes it).
    asked = [Input(ids.ask, "data")] if page.asks else []

    def poll(_n: int, *values: Any) -> list:
        *inputs_now, config, state = values[len(asked):]
        return run(services, config, state, *inputs_now)

    dash_app.callback(*outputs, Input(ids.poll, "n_intervals"), *asked, *inputs,
                      State(ids.config, "data"), State(ids.state, "data"),
                      prevent_initial_call=True)(poll)


def register_client(dash_app: Dash, page: LivePage) -> None:
    """The browser-side callbacks both pages share: the status store handed to
    assets/nps_tv.js, which paints the staleness label, the clock and the connection and
    data-source notice itself (no outputs: those elements' text and class are the script's,
    so a clock minute or a staleness step costs no Dash cycle), and each figure's scaling."""
    ids = page.ids
    dash_app.clientside_callback(
        ClientsideFunction("nps_tv", "status"),
        Input(ids.status, "data"), State(ids.config, "data"))
    for panel in panels():
        if page.draws(panel):
            # The script draws into the panel's body and answers no_update: a callback needs
            # an output in the page's layout to run when the page appears.
            dash_app.clientside_callback(
                ClientsideFunction("nps_tv", f"draw_{panel.drawer}"),
                Output(ids.body(panel.name), "className"), Input(ids.data(panel.name), "data"),
                State(ids.body(panel.name), "id"))
        if panel.figure:
            dash_app.clientside_callback(
                ClientsideFunction("nps_tv", "scale_figure"),
                Output(ids.graph(panel.name), "figure"), Input(ids.figure(panel.name), "data"),
                State(ids.config, "data"))
