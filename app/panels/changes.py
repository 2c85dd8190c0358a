"""The "what changed" panel: up to three sentences about changes beyond noise (app/changes.py).

Each sentence says its direction in words ("up", "down", "doubled", "fell by half"); the arrow
and colour only repeat it (green for good news for the score, red for bad).
"""

from __future__ import annotations

from typing import Any

from dash import html
from dash.development.base_component import Component

from app.changes import Finding
from app.panels import ARROW_DOWN, ARROW_UP, PartContext, describe_previous, describe_window
from app.privacy import Profanity, mask_profanity
from app.views import View
from app.wire import TAGS, ObjectMemo

CHANGES_LIST = "changes-list"


def build_changes_panel(view: View, profanity: Profanity | None = None,
                        tags: Any = html) -> list[Component]:
    """The sentences of a view, or why there are none (names from respondents masked with
    ``profanity`` on the wall; personal data is masked when the sentence is made), made with
    ``tags`` (``dash.html``, or ``app.wire.TAGS`` for the wire form)."""
    if view.previous is None:
        return [tags.Div("No earlier period to compare with", className="panel-message",
                         **{"data-empty": "true"})]
    if not view.changes:
        where = describe_window(view.request.window, view.label)
        return [tags.Div(f"No significant change {where}", id=CHANGES_LIST,
                         className="panel-message changes-none", **{"data-empty": "true"})]
    items = [_build_item(finding, profanity, tags) for finding in view.changes]
    note = (f"Changes beyond noise (95%), {describe_previous(view.request.window)}, "
            f"each on at least {view.minimums.responses} responses a window; "
            "largest effect first.")
    return [tags.Ol(items, id=CHANGES_LIST, className="changes-list",
                    **{"data-count": str(len(items))}),
            tags.Div(note, className="changes-note")]


def _build_item(finding: Finding, profanity: Profanity | None, tags: Any = html) -> Any:
    arrow = ARROW_UP if finding.direction == "up" else ARROW_DOWN
    return tags.Li(className=f"change-item is-{finding.tone}",
                   **{"data-kind": finding.kind, "data-tone": finding.tone}, children=[
                       tags.Span(arrow, className="change-arrow", **{"aria-hidden": "true"}),
                       # "(± 7.1)" stays whole when the sentence wraps.
                       tags.Span(mask_profanity(finding.text, profanity).replace(
                           "(± ", "(±\u00a0"), className="change-text"),
                   ])


# The shown fields by the findings' tuple (a carried view hands its parts the same one), so a
# screen the change left out gives its stamp the same object again (``parts.same``).
_SHOWN = ObjectMemo()


def _shown(changes: tuple[Finding, ...]) -> tuple:
    return _SHOWN.get(changes, lambda changes: tuple(
        (f.kind, f.text, f.direction, f.tone) for f in changes))


def needs(view: View, ctx: PartContext) -> tuple:
    """The sentences (what each shows: not its ``effect``, which orders them and moves with
    every response, so a touched screen whose sentences read the same is not built and
    diffed again: a quarter of a distinct screen's "changes" rebuilds found nothing to
    send), whether there is a previous window, and the window's wording."""
    return (_shown(view.changes), view.previous is None, view.label, view.request.window,
            view.minimums, ctx.profanity)


def build(view: View, ctx: PartContext) -> list[dict]:
    """The registry's builder: the "what changed" sentences, in wire form."""
    return build_changes_panel(view, ctx.profanity, TAGS)
