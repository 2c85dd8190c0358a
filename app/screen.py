"""What one screen shows, from its URL query: the data (window, from/to, segments), the
panels and their dwell, the theme; bad values become on-screen notices, never errors.

``parse_screen`` is cached: every poll of every screen parses its query, and screens share a
handful of queries. The canonical query it returns reproduces the screen exactly.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlencode

from app.config import Settings
from app.ingest.rules import TimeRange
from app.panels import CHIP_CHARS
from app.panels.registry import panel_names, verbatim_names
from app.privacy import clean_for_display
from app.scopes import SCREEN_PARAMS, VIEW_PARAMS, LinkScope, screen_query_for
from app.segments import join_values
from app.views import RequestError, ViewRequest
from app.windows import days_window, window_title

THEME_NAMES = ("dark", "light")
POWER_NAMES = ("normal", "low")
DWELL_RANGE = (3.0, 3600.0)


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
    hidden: tuple[str, ...] = ()  # panels its share link hides (customers' words)
    # Whether the score may be set against the rest of the responses: not under a link
    # limited to some segments, since the rest is what that link may not see.
    rest: bool = True
    editable: bool = False  # an admin's manager view: comments offer "Edit topics"
    # The wall's follow-up line under the score (``followups=1``, or NPS_TV_WALL_FOLLOW_UPS).
    follow_ups: bool = False
    power: str | None = None  # "low" or "normal" from ?power=; None: NPS_TV_WALL_POWER decides

    @property
    def data_key(self) -> str:
        """Identifies the data this screen shows (not how it rotates)."""
        hidden = f"-{','.join(self.hidden)}" if self.hidden else ""
        rest = "" if self.rest else "-norest"
        edit = "+edit" if self.editable else ""
        follow = "+fu" if self.follow_ups else ""
        return f"{self.theme}{hidden}{rest}{edit}{follow}?{self.view_query}"

    @property
    def comments(self) -> bool:
        """Whether customers' own words may show (False under a link that hides them)."""
        return not self.hidden

    def dwell_for(self, panel: str) -> float:
        """Seconds the wall stays on ``panel``."""
        return dict(self.dwell)[panel]


def parse_screen(query: Mapping[str, str], settings: Settings,
                 scope: LinkScope | None = None) -> ScreenConfig:
    """Parse kiosk settings from a URL query; never raises (bad values become notices).

    Under a share link's ``scope`` the screen is the link's: a wall link's pinned screen
    whatever the query says, a manager link's segments never widened, and no panel of
    customers' words when the link hides comments (``app.scopes``).
    """
    query, link_notices = screen_query_for(query, scope, settings.segment_fields)
    hidden = verbatim_names() if scope is not None and scope.comments_hidden else ()
    items = tuple(sorted((str(k), str(v)) for k, v in query.items()))
    screen = _parse_screen(items, panel_names(), settings.segment_fields,
                           settings.window_days, settings.dwell_seconds,
                           TimeRange.from_settings(settings), hidden, link_notices,
                           settings.wall_follow_ups)
    if scope is not None and scope.segments:
        screen = dataclasses.replace(screen, rest=False)
    return screen


@lru_cache(maxsize=512)
def _parse_screen(items: tuple[tuple[str, str], ...], names: tuple[str, ...],
                  segment_fields: tuple[str, ...], window_days: int, default_dwell: float,
                  time_range: TimeRange | None = None, hidden: tuple[str, ...] = (),
                  link_notices: tuple[str, ...] = (),
                  follow_ups_default: bool = False) -> ScreenConfig:
    query = dict(items)
    notices: list[str] = list(link_notices)
    default_window = days_window(window_days)
    try:
        request = ViewRequest.parse(query, segment_fields, default_window, time_range)
    except RequestError as exc:
        notices.append(f"{exc}; showing {default_window}")
        request = ViewRequest.parse({k: v for k, v in query.items() if k not in VIEW_PARAMS},
                                    segment_fields, default_window, time_range)
    panels = _parse_panels(query.get("panels"), names, notices)
    if hidden:  # what the link hides is never shown, whatever the URL asks
        panels = (tuple(p for p in panels if p not in hidden)
                  or tuple(p for p in names if p not in hidden))
    dwell, dwell_query = _parse_dwell(query.get("dwell"), names, notices)
    theme = (query.get("theme") or "dark").strip().lower()
    if theme not in THEME_NAMES:
        notices.append(f"theme: unknown {query['theme']!r}; using dark")
        theme = "dark"
    shift = _parse_flag(query.get("shift"), "shift", notices)
    follow_ups = _parse_flag(query.get("followups"), "followups", notices, follow_ups_default)
    power = _parse_power(query.get("power"), notices)
    unknown = sorted(set(query) - set(VIEW_PARAMS) - set(SCREEN_PARAMS) - set(segment_fields))
    if unknown:
        notices.append(("unknown parameters: " if len(unknown) > 1 else "unknown parameter: ")
                       + ", ".join(unknown) + " (ignored)")
    view_query = urlencode(_request_params(request, default_window), safe=",")
    screen_params = []
    if panels != names:
        screen_params.append(("panels", ",".join(panels)))
    if dwell_query:
        screen_params.append(("dwell", dwell_query))
    if theme != "dark":
        screen_params.append(("theme", theme))
    if not shift:
        screen_params.append(("shift", "0"))
    if follow_ups != follow_ups_default:
        screen_params.append(("followups", "1" if follow_ups else "0"))
    if power is not None:
        screen_params.append(("power", power))
    full = "&".join(p for p in (urlencode(screen_params, safe=",:"), view_query) if p)
    dwell_map = tuple((name, dwell.get(name, default_dwell)) for name in names)
    return ScreenConfig(request, panels, dwell_map, theme, shift, tuple(notices), full,
                        view_query, hidden, follow_ups=follow_ups, power=power)


def _parse_panels(raw: str | None, known: tuple[str, ...],
                  notices: list[str]) -> tuple[str, ...]:
    if raw is None or not raw.strip():
        return known
    names: list[str] = []
    for part in raw.split(","):
        name = part.strip().lower()
        if name in known and name not in names:
            names.append(name)
        elif name and name not in known:
            notices.append(f"panels: unknown {name!r}")
    if not names:
        notices.append("panels: none recognised; showing all")
        return known
    return tuple(names)


def _parse_dwell(raw: str | None, known: tuple[str, ...],
                 notices: list[str]) -> tuple[dict[str, float], str]:
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
            values.update(dict.fromkeys(known, value))
            kept.append(f"{value:g}")
        elif name in known:
            values[name] = value
            kept.append(f"{name}:{value:g}")
        else:
            notices.append(f"dwell: unknown panel {name!r} in {part.strip()!r}")
    return values, ",".join(kept)


def _parse_flag(raw: str | None, name: str, notices: list[str], default: bool = True) -> bool:
    if raw is None or not raw.strip():
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    notices.append(f"{name}: expected 0 or 1, got {raw!r}")
    return default


def _parse_power(raw: str | None, notices: list[str]) -> str | None:
    if raw is None or not raw.strip():
        return None
    value = raw.strip().lower()
    if value not in POWER_NAMES:
        notices.append(f"power: expected normal or low, got {raw!r}")
        return None
    return value


def _request_params(request: ViewRequest, default_window: str) -> list[tuple[str, str]]:
    params: list[tuple[str, str]] = []
    if request.window == "range":
        params += [("from", request.start.isoformat())] if request.start else []
        params += [("to", request.end.isoformat())] if request.end else []
    elif request.window != default_window:
        params.append(("window", request.window))
    params += [(name, join_values(values)) for name, values in request.segments]
    return params


def describe_request(request: ViewRequest) -> str:
    """A short subtitle: "Last 30 days · Ledger, Pulse · EMEA"."""
    parts = [window_title(request.window, request.start, request.end)]
    # Values come from the URL as typed: shown cleaned and cut like any chip.
    parts += [", ".join(clean_for_display(v, CHIP_CHARS) for v in values)
              for _, values in request.segments]
    return " · ".join(parts)


def public_query(query: Mapping[str, str], segment_fields: tuple[str, ...]) -> dict[str, str]:
    """The URL parameters a page may keep in its layout: known names only."""
    known = set(VIEW_PARAMS) | set(SCREEN_PARAMS) | set(segment_fields)
    return {k: v for k, v in query.items() if k in known}
