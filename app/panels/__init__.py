"""Panel builders: a View in, Dash components or plain-dict figures out (no database).

This package module holds what the builders share: score bands, themes, number and time
formatting, and the context a part is built in. Each panel lives in its own module (score,
trend, topics, comments, and the gong's payload), which offers ``needs`` (what it shows of a
view, for the fingerprint) and ``build``; ``app.panels.registry`` declares them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.metrics import CATEGORY_NAMES, Change, ScoreSummary, categorize, round_half_away
from app.privacy import Profanity
from app.windows import describe_previous_window

# NPS bands, low edge inclusive: <0 negative, 0-29 low, 30-69 good, >=70 great.
BAND_EDGES = ((70, "great"), (30, "good"), (0, "low"))
ARROW_UP, ARROW_DOWN, ARROW_FLAT = "▲", "▼", "▶"
NOT_AVAILABLE = "—"
# Longest segment value or topic name shown in a chip; the CSS also cuts what is too wide.
CHIP_CHARS = 40

# Colours the figures need in Python; the CSS (assets/nps_tv.css) holds the same palette.
THEMES: dict[str, dict[str, str]] = {
    "dark": {
        "text": "#e8ecf4", "muted": "#8d97ab", "faint": "#5b6478", "grid": "rgba(141,151,171,0.16)",
        "zero": "rgba(232,236,244,0.38)", "panel": "#121a2e", "accent": "#7aa7ff",
        "band": "rgba(122,167,255,0.20)", "point": "rgba(232,236,244,0.55)",
        "special": "#ffd166",
        "negative": "#ff6b6b", "low": "#ffb547", "good": "#62d68a", "great": "#17e0a0",
        "goal": "#ffd166",
    },
    "light": {
        "text": "#141a2a", "muted": "#5a6478", "faint": "#9aa3b5", "grid": "rgba(20,26,42,0.10)",
        "zero": "rgba(20,26,42,0.35)", "panel": "#ffffff", "accent": "#2f5fd0",
        "band": "rgba(47,95,208,0.16)", "point": "rgba(20,26,42,0.50)",
        "special": "#c2410c",
        "negative": "#d33a3a", "low": "#c27a00", "good": "#2e9a4e", "great": "#078a5f",
        "goal": "#b7791f",
    },
}
EVENT_COLOURS = {
    "dark": {"launch": "#b794ff", "release": "#b794ff", "price": "#ffb547", "pricing": "#ffb547",
             "outage": "#ff6b6b", "incident": "#ff6b6b", "default": "#9fb0cc"},
    "light": {"launch": "#7048c8", "release": "#7048c8", "price": "#b86e00", "pricing": "#b86e00",
              "outage": "#cc3030", "incident": "#cc3030", "default": "#56627a"},
}


@dataclass(frozen=True)
class PartContext:
    """What a part may depend on besides its view: where it shows and how.

    ``surface`` is ``wall`` (/tv) or ``manager`` (/); ``limit`` is the panel's item limit on
    that surface (None when it has none); ``profanity`` the words to mask, on the wall only
    (None on the manager page); ``comments`` False when the screen's share link hides them.
    """

    surface: str
    theme: str
    timezone: str
    segment_fields: tuple[str, ...]
    limit: int | None = None
    profanity: Profanity | None = None
    comments: bool = True  # False: a share link hides customers' words from this screen
    rest: bool = True  # False: a link limited to segments may not see the rest to compare
    editable: bool = False  # True: an admin's manager view, whose comments offer editing
    # The wall's follow-up line: (how many the follow-up list holds for the screen's window
    # and segments, how many of them are contacted or resolved); None: not shown.
    follow_ups: tuple[int, int] | None = None


def resolve_theme(theme: str) -> dict[str, str]:
    """The palette of a theme name, dark when unknown."""
    return THEMES.get(theme, THEMES["dark"])


def classify_band(nps: float) -> str:
    """The band of a (displayed) NPS: negative, low, good or great."""
    for edge, name in BAND_EDGES:
        if nps >= edge:
            return name
    return "negative"


def category_name(score: int) -> str:
    """promoter, passive or detractor for a 0-10 score."""
    return CATEGORY_NAMES[categorize(score)]


def compute_shown_delta(current: ScoreSummary, previous: ScoreSummary | None) -> int | None:
    """The change between the two scores as displayed, so the screen adds up (41 vs 41 is 0)."""
    if previous is None or not current.enough or not previous.enough:
        return None
    return (current.nps_display or 0) - (previous.nps_display or 0)


def describe_delta(delta: float | None) -> tuple[str, str, str]:
    """(arrow, magnitude text, direction class) of a score change; "—" when unknown."""
    if delta is None:
        return "", NOT_AVAILABLE, "is-none"
    shown = round_half_away(delta)
    if shown > 0:
        return ARROW_UP, str(shown), "is-up"
    if shown < 0:
        return ARROW_DOWN, str(-shown), "is-down"
    return ARROW_FLAT, "0", "is-flat"


@dataclass(frozen=True)
class ChangeText:
    """How a change is shown: arrow (only when real), magnitude, word and CSS class.

    A change within noise is grey with the word "steady" and no arrow; a real one keeps its
    arrow and colour and says "up" or "down" too, so colour never carries the meaning alone.
    """

    arrow: str
    magnitude: str
    word: str
    css: str
    noise: str  # "within noise (± 7.6)", "beyond noise (± 5.4)", or "" when unknown


def describe_change(current: ScoreSummary, previous: ScoreSummary | None,
                    change: Change | None) -> ChangeText:
    """The shown change between two scores (the difference of the displayed scores), judged
    by ``change``'s significance test."""
    shown = compute_shown_delta(current, previous)
    if shown is None or change is None:
        return ChangeText("", NOT_AVAILABLE, "", "is-none", "")
    noise = f"± {change.noise:.1f}"
    # The shown change must pass the noise too: "▲ 6 up, beyond noise (± 6.8)" would not add up.
    if not change.significant or abs(shown) <= change.noise:
        magnitude = "0" if shown == 0 else f"{shown:+d}".replace("-", "\u2212")
        return ChangeText("", magnitude, "steady", "is-steady", f"within noise ({noise})")
    if shown > 0:
        return ChangeText(ARROW_UP, str(shown), "up", "is-up", f"beyond noise ({noise})")
    return ChangeText(ARROW_DOWN, str(-shown), "down", "is-down", f"beyond noise ({noise})")


def format_count(n: int) -> str:
    """A count with thousands separators (1,234)."""
    return f"{n:,}"


def format_ago(then: datetime, now: datetime) -> str:
    """A relative time such as "just now", "4 min ago", "3 h ago" (assets JS mirrors this)."""
    seconds = (now - then).total_seconds()
    if seconds < 45:
        return "just now"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min ago"
    hours = round(seconds / 3600)
    if hours < 24:
        return f"{hours} h ago"
    days = round(seconds / 86400)
    if days < 2:
        return "yesterday"
    if days <= 30:
        return f"{days} days ago"
    return then.strftime("%d %b").lstrip("0")


def describe_window(request_window: str, label: str) -> str:
    """The window as a phrase: "in the last 30 days", "so far", "from 2026-01-01 to …"."""
    if request_window == "all":
        return "so far"
    if request_window == "range":
        return f"from {label}"
    return f"in the {label}"


def describe_previous(window: str) -> str:
    """How the comparison window is named: "vs previous 30 days" (see app/windows.py)."""
    return describe_previous_window(window)
