"""What a share link may say, checked once for the CLI and the admin API, and what a stored
link allows: its scope (pinned screen, segments, comments) applied to a request's filters.

Every refusal is a ``LinkInputError`` whose message starts with the field, then the reason.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode

from app.config import Settings
from app.ingest.rules import TimeRange
from app.panels.registry import panel_names
from app.scopes import SCREEN_PARAMS, VIEW_PARAMS
from app.screen import DWELL_RANGE, POWER_NAMES, THEME_NAMES
from app.segments import join_values, split_values
from app.views import RequestError, ViewRequest
from app.windows import days_window

ROLES = ("wall", "manager")
COMMENTS = ("show", "hide")
NAME_MAX = 100
SCREEN_MAX = 2000
SEGMENT_VALUE_MAX = 200
EXPIRES_RE = re.compile(r"^([0-9]{1,5})([dh])$", re.ASCII)
EXPIRES_MAX_DAYS = 3650


class LinkInputError(ValueError):
    """A refused share-link field: ``field: reason``."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


def validate_name(raw: object) -> str:
    """A link's name: 1-100 characters on one line, not only digits (digits are ids)."""
    if not isinstance(raw, str):
        raise LinkInputError("name", "must be text")
    name = raw.strip()
    if not name:
        raise LinkInputError("name", "must not be empty")
    if len(name) > NAME_MAX:
        raise LinkInputError("name", f"is {len(name)} characters; the limit is {NAME_MAX}")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in name):
        raise LinkInputError("name", "must be one line without control or format characters")
    if name.isdigit():
        raise LinkInputError("name", "must not be only digits (numbers name link ids)")
    return name


def validate_choice(field: str, raw: object, choices: tuple[str, ...]) -> str:
    """One of ``choices``; the error lists them."""
    if not isinstance(raw, str) or raw.strip().lower() not in choices:
        raise LinkInputError(field, f"must be {' or '.join(choices)}, got {raw!r}")
    return raw.strip().lower()


def parse_expires(raw: object, now: datetime | None = None) -> datetime | None:
    """``90d`` or ``12h`` from now (None or ``never``: no expiry)."""
    if raw is None or (isinstance(raw, str) and raw.strip().lower() in ("", "never")):
        return None
    match = EXPIRES_RE.match(raw.strip().lower()) if isinstance(raw, str) else None
    if match is None:
        raise LinkInputError("expires", f"must be a duration like 90d or 12h, got {raw!r}")
    amount, unit = int(match.group(1)), match.group(2)
    span = timedelta(days=amount) if unit == "d" else timedelta(hours=amount)
    if amount < 1:
        raise LinkInputError("expires", f"must be at least 1{unit}, got {raw!r}")
    if span > timedelta(days=EXPIRES_MAX_DAYS):
        raise LinkInputError("expires", f"must be at most {EXPIRES_MAX_DAYS}d, got {raw!r}")
    return (now or datetime.now(UTC)) + span


def canonical_screen(raw: object, settings: Settings) -> str:
    """The screen query in canonical order (panels, dwell, theme, shift, followups, power,
    window, segments); LinkInputError naming ``screen.<param>`` for anything a screen would not
    apply."""
    if raw is None or raw == "":
        return ""
    if not isinstance(raw, str):
        raise LinkInputError("screen", "must be a query string like panels=score,trend&dwell=20")
    if len(raw) > SCREEN_MAX:
        raise LinkInputError("screen", f"is {len(raw)} characters; the limit is {SCREEN_MAX}")
    try:
        pairs = parse_qsl(raw.strip().lstrip("?"), keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise LinkInputError("screen", f"must be name=value pairs joined by &, got {raw!r}"
                             ) from None
    query: dict[str, str] = {}
    for name, value in pairs:
        if name in query:
            raise LinkInputError(f"screen.{name}", "is given twice")
        query[name] = value.strip()
    known = (*SCREEN_PARAMS, *VIEW_PARAMS, *settings.segment_fields)
    unknown = [name for name in query if name not in known]
    if unknown:
        raise LinkInputError(f"screen.{unknown[0]}", "unknown parameter; known: "
                             + ", ".join(known))
    params = _screen_params(query)
    return urlencode(params + _view_params(query, settings), safe=",:")


def _screen_params(query: Mapping[str, str]) -> list[tuple[str, str]]:
    params: list[tuple[str, str]] = []
    if "panels" in query:
        names = [part.strip().lower() for part in query["panels"].split(",")]
        bad = [n for n in names if n not in panel_names()]
        if bad or not names:
            raise LinkInputError("screen.panels", f"unknown panel {bad[0] if bad else ''!r}; "
                                 f"panels are {','.join(panel_names())}")
        if len(set(names)) != len(names):
            raise LinkInputError("screen.panels", "names a panel twice")
        params.append(("panels", ",".join(names)))
    if "dwell" in query:
        params.append(("dwell", _canonical_dwell(query["dwell"])))
    if "theme" in query:
        params.append(("theme", validate_choice("screen.theme", query["theme"], THEME_NAMES)))
    if "shift" in query:
        if query["shift"] not in ("0", "1"):
            raise LinkInputError("screen.shift", f"must be 0 or 1, got {query['shift']!r}")
        params.append(("shift", query["shift"]))
    if "followups" in query:
        if query["followups"] not in ("0", "1"):
            raise LinkInputError("screen.followups",
                                 f"must be 0 or 1, got {query['followups']!r}")
        params.append(("followups", query["followups"]))
    if "power" in query:
        params.append(("power", validate_choice("screen.power", query["power"], POWER_NAMES)))
    return params


def _canonical_dwell(raw: str) -> str:
    low, high = DWELL_RANGE
    kept = []
    for part in raw.split(","):
        name, _, seconds = part.strip().rpartition(":")
        name = name.strip().lower()
        if name and name not in panel_names():
            raise LinkInputError("screen.dwell", f"unknown panel {name!r} in {part.strip()!r}")
        if not re.fullmatch(r"[0-9]{1,4}(\.[0-9]{1,3})?", seconds.strip(), re.ASCII):
            raise LinkInputError("screen.dwell", f"{part.strip()!r} is not a number of seconds")
        value = float(seconds)
        if not low <= value <= high:
            raise LinkInputError("screen.dwell", f"{part.strip()!r} is outside {low:g}-{high:g}s")
        kept.append(f"{name}:{value:g}" if name else f"{value:g}")
    return ",".join(kept)


def _view_params(query: Mapping[str, str], settings: Settings) -> list[tuple[str, str]]:
    for name in settings.segment_fields:
        for value in split_values(query.get(name) or ""):
            if len(value) > SEGMENT_VALUE_MAX or any(
                    unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in value):
                raise LinkInputError(f"screen.{name}", "values must be one line of at most "
                                     f"{SEGMENT_VALUE_MAX} characters")
    try:
        request = ViewRequest.parse(query, settings.segment_fields,
                                    days_window(settings.window_days),
                                    TimeRange.from_settings(settings))
    except RequestError as exc:
        field, _, reason = str(exc).partition(": ")
        raise LinkInputError(f"screen.{field}", reason) from None
    params: list[tuple[str, str]] = []
    if request.window == "range":
        params += [("from", request.start.isoformat())] if request.start else []
        params += [("to", request.end.isoformat())] if request.end else []
    elif "window" in query:  # the default window stays implicit, as on a screen's URL
        params.append(("window", request.window))
    return params + [(name, join_values(values)) for name, values in request.segments]


class LinkProblems(ValueError):
    """Every refused field of one request (each a LinkInputError)."""

    def __init__(self, problems: list[LinkInputError]):
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


LINK_FIELDS = ("name", "role", "screen", "expires", "comments")


def validate_link(fields: Mapping[str, object], settings: Settings,
                  now: datetime | None = None) -> dict:
    """The keyword arguments of ``ShareLinks.create`` from user input; LinkProblems naming
    every bad field (unknown fields too), so a refused request changes nothing."""
    problems: list[LinkInputError] = [LinkInputError(name, "unknown field; fields are "
                                                     + ", ".join(LINK_FIELDS))
                                      for name in fields if name not in LINK_FIELDS]
    checks = {
        "name": lambda: validate_name(fields.get("name")),
        "role": lambda: validate_choice("role", fields.get("role") or "wall", ROLES),
        "screen": lambda: canonical_screen(fields.get("screen"), settings),
        "expires_at": lambda: parse_expires(fields.get("expires"), now),
        "comments": lambda: validate_choice("comments", fields.get("comments") or "show",
                                            COMMENTS),
    }
    values = {}
    for key, check in checks.items():
        try:
            values[key] = check()
        except LinkInputError as exc:
            problems.append(exc)
    if problems:
        raise LinkProblems(problems)
    return values


def share_url(token: str, settings: Settings, base: str | None = None) -> str:
    """The link to hand out: NPS_TV_PUBLIC_URL, else ``base`` (the request's), else
    http://HOST:PORT from the settings."""
    if settings.public_url:
        root = settings.public_url
    elif base:
        root = base
    else:
        host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
        root = f"http://{f'[{host}]' if ':' in host else host}:{settings.port}"
    return f"{root.rstrip('/')}/s/{token}"


def link_json(row, settings: Settings, now: datetime | None = None) -> dict:
    """A link as the admin API and ``nps-tv screens`` show it (never its token or hash)."""
    now = now or datetime.now(UTC)
    seen = row.last_seen_at
    silent = (now - seen).total_seconds() if seen is not None else None
    iso = lambda t: t.isoformat() if t is not None else None  # noqa: E731
    return {
        "id": row.id, "name": row.name, "role": row.role, "screen": row.screen,
        "comments": row.comments, "state": row.state(now),
        "created_at": iso(row.created_at), "expires_at": iso(row.expires_at),
        "revoked_at": iso(row.revoked_at), "last_seen_at": iso(seen),
        "last_user_agent": row.last_user_agent, "last_build": row.last_build,
        "last_trouble": row.last_trouble, "reload_requested_at": iso(row.reload_requested_at),
        "silent_seconds": None if silent is None else round(silent),
        "silent": row.state(now) == "active" and (
            silent is None or silent > settings.screen_silent_seconds),
    }


def format_seconds(seconds: int | None) -> str:
    """A duration as a screen list shows it: "45 s", "12 min", "3 h"; "-" when unknown."""
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"


def describe_browser(user_agent: str | None) -> str:
    """A short browser name from a User-Agent ("Chrome 131", "Firefox 133"), else '-'."""
    if not user_agent:
        return "-"
    for marker in ("Edg/", "Firefox/", "Chrome/", "Version/"):
        if marker in user_agent:
            version = user_agent.split(marker, 1)[1].split(" ")[0].split(".")[0]
            name = {"Edg/": "Edge", "Version/": "Safari"}.get(marker, marker[:-1])
            return f"{name} {version}"
    return user_agent.split(" ")[0][:40]
