"""The "what changed" panel: up to three sentences about changes beyond noise (app/changes.py).

Each sentence says its direction in words ("up", "down", "doubled", "fell by half"); the arrow
and colour only repeat it (green for good news for the score, red for bad).
"""

from __future__ import annotations

from dash import html
from dash.development.base_component import Component

from app.changes import Finding
from app.panels import ARROW_DOWN, ARROW_UP, PartContext, describe_previous, describe_window
from app.privacy import Profanity, mask_profanity
from app.views import View

CHANGES_LIST = "changes-list"


def build_changes_panel(view: View, profanity: Profanity | None = None) -> list[Component]:
    """The sentences of a view, or why there are none (names from respondents masked with
    ``profanity`` on the wall; personal data is masked when the sentence is made)."""
    if view.previous is None:
        return [html.Div("No earlier period to compare with", className="panel-message",
                         **{"data-empty": "true"})]
    if not view.changes:
        where = describe_window(view.request.window, view.label)
        return [html.Div(f"No significant change {where}", id=CHANGES_LIST,
                         className="panel-message changes-none", **{"data-empty": "true"})]
    items = [_build_item(finding, profanity) for finding in view.changes]
    note = (f"Changes beyond noise (95%), {describe_previous(view.request.window)}, "
            f"each on at least {view.minimums.responses} responses a window; "
            "largest effect first.")
    return [html.Ol(items, id=CHANGES_LIST, className="changes-list",
                    **{"data-count": str(len(items))}),
            html.Div(note, className="changes-note")]


def _build_item(finding: Finding, profanity: Profanity | None) -> html.Li:
    arrow = ARROW_UP if finding.direction == "up" else ARROW_DOWN
    return html.Li(className=f"change-item is-{finding.tone}",
                   **{"data-kind": finding.kind, "data-tone": finding.tone}, children=[
                       html.Span(arrow, className="change-arrow", **{"aria-hidden": "true"}),
                       # "(± 7.1)" stays whole when the sentence wraps.
                       html.Span(mask_profanity(finding.text, profanity).replace(
                           "(± ", "(±\u00a0"), className="change-text"),
                   ])


def needs(view: View, ctx: PartContext) -> tuple:
    """The sentences, whether there is a previous window, and the window's wording."""
    return (view.changes, view.previous is None, view.label, view.request.window,
            view.minimums, ctx.profanity)


def build(view: View, ctx: PartContext) -> list[Component]:
    """The registry's builder: the "what changed" sentences."""
    return build_changes_panel(view, ctx.profanity)
