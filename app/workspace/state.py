"""The workspace's URL parameters: parsed into a ``Workspace``, written back, nothing else.

Pure: no Dash, no store. Bad values fall back to the default quietly (a hand-edited URL
shows the overview rather than an error), and the canonical query holds only what differs
from the defaults, so a copied URL is short and opens the same view.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import date
from urllib.parse import parse_qsl

OVERVIEW, COMMENTS, FOLLOW_UPS, EVENTS = "overview", "comments", "follow-ups", "events"
VIEWS = (OVERVIEW, COMMENTS, FOLLOW_UPS, EVENTS)
ADMIN_VIEWS = (FOLLOW_UPS, EVENTS)
CATEGORIES = ("promoter", "passive", "detractor")
SORTS = ("newest", "oldest", "score_low", "score_high")
FOLLOW_UP_STATUSES = ("new", "contacted", "resolved")
PARAMS = ("view", "topic", "period", "event", "compare", "q", "category", "sort", "page",
          "status", "passives", "edit")
DRILLS = ("topic", "period", "event")  # at most one is open: opening one closes the others
MAX_TEXT = 200
MAX_PAGE = 100_000


@dataclass(frozen=True)
class Workspace:
    """What the workspace shows; every field comes from (and goes back to) the URL."""

    view: str = OVERVIEW
    topic: str | None = None  # drill-down: the comments behind a topic
    period: date | None = None  # drill-down: one trend period (its first day)
    event: int | None = None  # drill-down: before and after an event (its id)
    compare: str | None = None  # the segment field of the comparison table
    q: str = ""  # the explorer's search box
    category: str | None = None
    sort: str = "newest"
    page: int = 1
    status: str | None = None  # the follow-up list's status filter
    passives: bool = False  # the follow-up list includes passives (``passives=1``)
    edit: int | None = None  # the events editor: the event in the form


_CONTROL = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")


def _text(raw: str | None) -> str | None:
    """A text parameter on one line, without control characters or lone surrogates (a
    ``%00`` in the address would otherwise reach the database)."""
    value = " ".join(_CONTROL.sub(" ", raw or "").split())[:MAX_TEXT]
    return value or None


def _positive(raw: str | None, high: int) -> int | None:
    value = (raw or "").strip()
    if not value.isascii() or not value.isdigit():
        return None
    number = int(value)
    return number if 1 <= number <= high else None


def _date(raw: str | None) -> date | None:
    try:
        return date.fromisoformat((raw or "").strip())
    except ValueError:
        return None


def _choice(raw: str | None, choices: tuple[str, ...]) -> str | None:
    value = (raw or "").strip().lower()
    return value if value in choices else None


def parse_workspace(query: Mapping[str, str], segment_fields: tuple[str, ...]) -> Workspace:
    """The workspace a URL query names; unknown or bad values are left at their default."""
    ws = Workspace(
        view=_choice(query.get("view"), VIEWS) or OVERVIEW,
        topic=_text(query.get("topic")),
        period=_date(query.get("period")),
        event=_positive(query.get("event"), 2**31 - 1),
        compare=(query.get("compare") or "").strip() or None,
        q=_text(query.get("q")) or "",
        category=_choice(query.get("category"), CATEGORIES),
        sort=_choice(query.get("sort"), SORTS) or "newest",
        page=_positive(query.get("page"), MAX_PAGE) or 1,
        status=_choice(query.get("status"), FOLLOW_UP_STATUSES),
        passives=(query.get("passives") or "").strip() == "1",
        edit=_positive(query.get("edit"), 2**31 - 1),
    )
    if ws.compare not in segment_fields:
        ws = replace(ws, compare=None)
    return _one_drill(ws, [name for name in DRILLS if getattr(ws, name) is not None])


def _one_drill(ws: Workspace, opened: list[str]) -> Workspace:
    """A URL naming several drill-downs opens the first (topic, then period, then event)."""
    if len(opened) <= 1:
        return ws
    return replace(ws, **{name: None for name in opened[1:]})


def workspace_query(ws: Workspace) -> dict[str, str]:
    """The canonical URL parameters of ``ws`` (defaults left out)."""
    default = Workspace()
    result: dict[str, str] = {}
    for f in fields(ws):
        value = getattr(ws, f.name)
        if value == getattr(default, f.name) or value is None or value == "":
            continue
        result[f.name] = _shown(value)
    return result


def _shown(value: object) -> str:
    """A field's value as URL text (a flag is ``1``)."""
    if isinstance(value, bool):
        return "1" if value else ""
    return value.isoformat() if isinstance(value, date) else str(value)


def field_values(ws: Workspace) -> dict[str, str]:
    """Every field of ``ws`` as the text an input shows ("" for none), defaults included."""
    result = {}
    for f in fields(ws):
        value = getattr(ws, f.name)
        result[f.name] = "" if value is None else _shown(value)
    return result


def split_query(query: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(the screen's parameters, the workspace's) of one URL query."""
    screen = {k: v for k, v in query.items() if k not in PARAMS}
    return screen, {k: v for k, v in query.items() if k in PARAMS}


def apply_step(current: Mapping[str, str], step: str,
               segment_fields: tuple[str, ...]) -> dict[str, str]:
    """The workspace query after a button's step: ``"view=comments"``, ``"page=3"``, or
    ``"topic="`` (an empty value clears). Opening a drill-down closes the others; changing
    the view or a filter goes back to page 1."""
    changes = dict(parse_qsl(step, keep_blank_values=True))
    merged = {k: v for k, v in current.items() if k in PARAMS}
    if any(changes.get(name) for name in DRILLS):
        for name in DRILLS:
            merged.pop(name, None)
    if "page" not in changes:
        merged.pop("page", None)
    for key, value in changes.items():
        if key not in PARAMS:
            continue
        if value:
            merged[key] = value
        else:
            merged.pop(key, None)
    return workspace_query(parse_workspace(merged, segment_fields))


def query_of_search(search: str | None) -> dict[str, str]:
    """A URL's search part (``?a=1&b=2``) as a dict."""
    return dict(parse_qsl((search or "").lstrip("?"), keep_blank_values=False))
