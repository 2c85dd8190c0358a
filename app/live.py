"""What the wall and the manager page share: screen settings from the URL, the cached panel
parts, and the one live-update step that sends nothing when nothing changed.

``compute_update`` is a plain function so tests can call it without a browser. Its fast path
(the client already has this snapshot) compares two strings and builds a small status dict;
figures and panels are built once per (snapshot version, day, request, theme) and shared by
every screen that shows the same thing.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from dash import no_update

from app.config import Settings
from app.ingest.rules import TimeRange
from app.live_status import build_status
from app.panels import CHIP_CHARS
from app.panels.comments import build_comments_panel
from app.panels.gong import build_latest_payload
from app.panels.score import build_score_panel
from app.panels.topics import build_topics_panel
from app.panels.trend import build_trend_figure
from app.parts import Part
from app.privacy import clean_for_display
from app.rollup import Snapshot
from app.views import RequestError, View, ViewRequest, today_in

if TYPE_CHECKING:
    from app.services import Services

log = logging.getLogger(__name__)
URL_ID = "page-url"  # the page shell's dcc.Location, which both pages read and write
PAGE_ID = "page-content"
PANEL_NAMES = ("score", "trend", "topics", "comments")
THEME_NAMES = ("dark", "light")
VIEW_PARAMS = ("window", "from", "to")
SCREEN_PARAMS = ("panels", "dwell", "theme", "shift")
DWELL_RANGE = (3.0, 3600.0)
COMMENT_LIMITS = {"comments": 20, "comment_list": 30}  # wall feed, manager list


@dataclass(frozen=True)
class ScreenConfig:
    """What one screen shows, parsed from its URL query; bad values fell back to defaults."""

    request: ViewRequest
    panels: tuple[str, ...]
    dwell: tuple[tuple[str, float], ...]
    theme: str
    shift: bool
    notices: tuple[str, ...]
    query: str  # canonical query string that reproduces this screen
    view_query: str  # the part of ``query`` that selects data (window and segments)

    @property
    def data_key(self) -> str:
        """Identifies the data this screen shows (not how it rotates)."""
        return f"{self.theme}?{self.view_query}"

    def dwell_for(self, panel: str) -> float:
        """Seconds the wall stays on ``panel``."""
        return dict(self.dwell)[panel]


def parse_screen(query: Mapping[str, str], settings: Settings) -> ScreenConfig:
    """Parse kiosk settings from a URL query; never raises (bad values become notices)."""
    items = tuple(sorted((str(k), str(v)) for k, v in query.items()))
    return _parse_screen(items, settings.segment_fields, settings.window_days,
                         settings.dwell_seconds, TimeRange.from_settings(settings))


@lru_cache(maxsize=512)
def _parse_screen(items: tuple[tuple[str, str], ...], segment_fields: tuple[str, ...],
                  window_days: int, default_dwell: float,
                  time_range: TimeRange | None = None) -> ScreenConfig:
    query = dict(items)
    notices: list[str] = []
    default_window = f"{window_days}d"
    try:
        request = ViewRequest.parse(query, segment_fields, default_window, time_range)
    except RequestError as exc:
        notices.append(f"{exc}; showing {default_window}")
        request = ViewRequest.parse({k: v for k, v in query.items() if k not in VIEW_PARAMS},
                                    segment_fields, default_window, time_range)
    panels = _parse_panels(query.get("panels"), notices)
    dwell, dwell_query = _parse_dwell(query.get("dwell"), notices)
    theme = (query.get("theme") or "dark").strip().lower()
    if theme not in THEME_NAMES:
        notices.append(f"theme: unknown {query['theme']!r}; using dark")
        theme = "dark"
    shift = _parse_flag(query.get("shift"), "shift", notices)
    unknown = sorted(set(query) - set(VIEW_PARAMS) - set(SCREEN_PARAMS) - set(segment_fields))
    if unknown:
        notices.append("ignored: " + ", ".join(unknown))
    view_query = urlencode(_request_params(request, default_window), safe=",")
    screen_params = []
    if panels != PANEL_NAMES:
        screen_params.append(("panels", ",".join(panels)))
    if dwell_query:
        screen_params.append(("dwell", dwell_query))
    if theme != "dark":
        screen_params.append(("theme", theme))
    if not shift:
        screen_params.append(("shift", "0"))
    full = "&".join(p for p in (urlencode(screen_params, safe=",:"), view_query) if p)
    dwell_map = tuple((name, dwell.get(name, default_dwell)) for name in PANEL_NAMES)
    return ScreenConfig(request, panels, dwell_map, theme, shift, tuple(notices), full,
                        view_query)


def _parse_panels(raw: str | None, notices: list[str]) -> tuple[str, ...]:
    if raw is None or not raw.strip():
        return PANEL_NAMES
    names: list[str] = []
    for part in raw.split(","):
        name = part.strip().lower()
        if name in PANEL_NAMES and name not in names:
            names.append(name)
        elif name and name not in PANEL_NAMES:
            notices.append(f"panels: unknown {name!r}")
    if not names:
        notices.append("panels: none recognised; showing all")
        return PANEL_NAMES
    return tuple(names)


def _parse_dwell(raw: str | None, notices: list[str]) -> tuple[dict[str, float], str]:
    """``dwell=15`` for every panel or ``dwell=score:20,trend:10`` per panel.

    Returns the seconds per panel and the good parts as canonical text, so that a URL with one
    bad part still reproduces what the screen applied (the bad part is named in a notice).
    """
    if raw is None or not raw.strip():
        return {}, ""
    values: dict[str, float] = {}
    kept: list[str] = []
    for part in raw.split(","):
        name, _, seconds = part.rpartition(":")
        name = name.strip().lower()
        try:
            value = float(seconds)
        except ValueError:
            notices.append(f"dwell: {part.strip()!r} is not a number of seconds")
            continue
        if not DWELL_RANGE[0] <= value <= DWELL_RANGE[1]:
            low, high = DWELL_RANGE
            notices.append(f"dwell: {part.strip()!r} is outside {low:g}-{high:g}s")
            continue
        if not name:
            values.update(dict.fromkeys(PANEL_NAMES, value))
            kept.append(f"{value:g}")
        elif name in PANEL_NAMES:
            values[name] = value
            kept.append(f"{name}:{value:g}")
        else:
            notices.append(f"dwell: unknown panel {name!r} in {part.strip()!r}")
    return values, ",".join(kept)


def _parse_flag(raw: str | None, name: str, notices: list[str]) -> bool:
    if raw is None or not raw.strip():
        return True
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    notices.append(f"{name}: expected 0 or 1, got {raw!r}")
    return True


def _request_params(request: ViewRequest, default_window: str) -> list[tuple[str, str]]:
    params: list[tuple[str, str]] = []
    if request.window == "range":
        params += [("from", request.start.isoformat())] if request.start else []
        params += [("to", request.end.isoformat())] if request.end else []
    elif request.window != default_window:
        params.append(("window", request.window))
    params += [(name, ",".join(values)) for name, values in request.segments]
    return params


def describe_request(request: ViewRequest) -> str:
    """A short subtitle: "Last 30 days · Ledger, Pulse · EMEA"."""
    if request.window == "all":
        parts = ["All time"]
    elif request.window == "range":
        start = request.start.isoformat() if request.start else "start"
        end = request.end.isoformat() if request.end else "today"
        parts = [f"{start} to {end}"]
    else:
        days = int(request.window[:-1])
        parts = ["Today" if days == 1 else f"Last {days} days"]
    # Values come from the URL as typed: shown cleaned and cut like any chip.
    parts += [", ".join(clean_for_display(v, CHIP_CHARS) for v in values)
              for _, values in request.segments]
    return " · ".join(parts)


# -- parts: built once per (snapshot version, day, request, theme) --------------------------


def fingerprint(*values: object) -> str:
    """A short hash of ``repr(values)``; stable across processes (unlike ``hash``)."""
    return hashlib.blake2b(repr(values).encode(), digest_size=8).hexdigest()


def _fingerprint_part(name: str, view: View, screen: ScreenConfig, settings: Settings) -> str:
    """What a part shows, hashed; equal fingerprints mean an equal payload."""
    if name == "score":
        key: tuple = (view.current, view.previous, view.delta, view.label, view.request.window)
    elif name == "trend":
        key = (view.trend, view.events, view.goal, view.granularity, view.start, view.end,
               screen.theme, settings.timezone)
    elif name == "topics":
        key = (view.topics[:8], len(view.topics), view.label)
    elif name in COMMENT_LIMITS:
        key = (tuple((c.id, c.created_at, c.score, c.text, tuple(c.segments.items()), c.topics)
                     for c in view.comments[:COMMENT_LIMITS[name]]), view.label,
               settings.segment_fields)
    elif name == "latest":
        latest = view.latest
        key = (latest.id, latest.created_at, latest.score, latest.text,
               tuple(latest.segments.items())) if latest else (None,)
    else:
        raise ValueError(f"unknown part {name!r}")
    return fingerprint(name, *key)


def _build_payload(name: str, view: View, screen: ScreenConfig, settings: Settings) -> Any:
    if name == "score":
        return build_score_panel(view)
    if name == "trend":
        return build_trend_figure(view, screen.theme, settings.timezone)
    if name == "topics":
        return build_topics_panel(view)
    if name in COMMENT_LIMITS:
        return build_comments_panel(view, datetime.now(UTC), limit=COMMENT_LIMITS[name],
                                    scroll=name == "comments", fields=settings.segment_fields)
    return build_latest_payload(view, settings.segment_fields)


def prewarm(services: Services) -> int:
    """Build the parts of every recently active screen for the current snapshot.

    Runs in the poll job right after a publish, so screens find their parts ready and the
    request path stays a cache lookup. Returns how many screens were warmed.
    """
    today = today_in(services.settings.timezone)
    snapshot = services.poller.snapshot
    warmed = 0
    for screen, names in services.screens.recent():
        try:
            _build_parts(services, snapshot, screen, names, today)
            warmed += 1
        except Exception:  # one bad screen must not keep the others cold
            log.exception("could not prepare the parts of %s", screen.data_key)
    return warmed


def _build_parts(services: Services, snapshot: Snapshot, screen: ScreenConfig,
                 names: tuple[str, ...], today: date) -> tuple[View, dict[str, Part]]:
    settings = services.settings
    view = services.poller.view(screen.request, snapshot=snapshot)
    parts = services.parts.get(
        (view.version, today, screen.data_key), names,
        lambda name: _fingerprint_part(name, view, screen, settings),
        lambda name: _build_payload(name, view, screen, settings))
    return view, parts


# -- the update step -----------------------------------------------------------------------


@dataclass(frozen=True)
class Update:
    """What one poll of a screen sends: parts (or no_update), the client state, the status."""

    parts: dict[str, Any]
    state: Any
    status: dict


def compute_update(services: Services, screen: ScreenConfig, state: Mapping | None,
                   names: tuple[str, ...]) -> Update:
    """The live update of one screen: ``no_update`` for every part the client already has."""
    settings = services.settings
    poller = services.poller
    status = build_status(services)
    today = today_in(settings.timezone)
    snapshot = poller.snapshot
    services.screens.note(screen, names)
    token = f"{snapshot.version}:{today.toordinal()}:{screen.data_key}"
    same_view = bool(state) and state.get("key") == screen.data_key
    if state and (state.get("token") == token
                  or (same_view and _is_behind(snapshot.mark, state.get("mark")))):
        # Nothing new, or this worker has not yet seen data the screen already shows (the
        # screen's last poll reached another gunicorn worker): never step back.
        return Update(dict.fromkeys(names, no_update), no_update, status)
    view, parts = _build_parts(services, snapshot, screen, names, today)
    token = f"{view.version}:{today.toordinal()}:{screen.data_key}"
    known = (state or {}).get("hashes") or {}
    sent = {name: no_update if known.get(name) == part.fingerprint else part.payload
            for name, part in parts.items()}
    new_state = {"token": token, "key": screen.data_key, "mark": list(snapshot.mark),
                 "hashes": {name: part.fingerprint for name, part in parts.items()}}
    return Update(sent, new_state, status)


def _is_behind(mine: tuple[int, int], theirs: Any) -> bool:
    """True when a screen's data mark is newer than this worker's snapshot."""
    try:
        return theirs is not None and tuple(int(x) for x in theirs) > tuple(mine)
    except (TypeError, ValueError):
        return False


def public_query(query: Mapping[str, str], segment_fields: tuple[str, ...]) -> dict[str, str]:
    """The URL parameters a page may keep in its layout: known names only."""
    known = set(VIEW_PARAMS) | set(SCREEN_PARAMS) | set(segment_fields)
    return {k: v for k, v in query.items() if k in known}
