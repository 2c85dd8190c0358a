"""The segment comparison section: one row per value of the chosen field (value, n, NPS
± margin, change against the previous window in the honest steady/up/down words, rank),
the ranking rule in plain words, and a CSV link with the same query.

It reads ``app.comparison.compare_segments`` on the screen's view, so a share link's scope
(already applied to the view's segments) bounds what the table can name.
"""

from __future__ import annotations

from urllib.parse import urlencode

from dash import dcc, html

from app.comparison import Comparison, ComparisonRow, compare_segments
from app.multiples import build_multiples
from app.panels import CHIP_CHARS, NOT_AVAILABLE, describe_change, format_count
from app.privacy import clean_for_display
from app.rollup import Snapshot
from app.views import View
from app.workspace.comment_list import FIELD
from app.workspace.multiples import build_multiples_panel, segment_id

HEADINGS = ("Rank", "Value", "Responses", "NPS", "± margin", "Change", "Lower bound")


def ranking_note(min_rank: int) -> str:
    """The rule the ranking follows, as the table states it."""
    return (f"Ranked by the lower bound of the 95% interval; fewer than {min_rank} responses "
            "are not ranked.")


def csv_href(view_query: str, field: str) -> str:
    """The CSV export of the same table."""
    return f"/api/v1/compare.csv?{urlencode({'field': field})}" + (
        f"&{view_query}" if view_query else "")


def build_row(row: ComparisonRow, field: str) -> html.Tr:
    """One value of the field; its name is a button that filters the page to it."""
    current = row.current
    change = describe_change(current, row.previous, row.change)
    shown_change = " ".join(p for p in (change.arrow, change.magnitude, change.word) if p)
    nps = f"{current.nps_display:+d}".replace("-", "\u2212") if current.enough else NOT_AVAILABLE
    margin = f"± {current.margin:.1f}" if current.enough and current.margin is not None \
        else NOT_AVAILABLE
    bound = f"{row.lower_bound:.1f}" if row.rank is not None and row.lower_bound is not None \
        else NOT_AVAILABLE
    return html.Tr(className="ws-compare-row" + ("" if row.rank else " is-unranked"), children=[
        html.Td(str(row.rank) if row.rank else "not ranked", className="ws-rank"),
        html.Th(html.Button(clean_for_display(row.value, CHIP_CHARS),
                            id=segment_id(field, row.value, "row"), n_clicks=0,
                            className="ws-segment-open",
                            title=f"Filter the workspace to {field} {row.value}"),
                scope="row"),
        html.Td(format_count(current.n), className="ws-num"),
        html.Td(nps, className="ws-num"),
        html.Td(margin, className="ws-num"),
        html.Td(shown_change, className=f"ws-change-cell {change.css}", title=change.noise),
        html.Td(bound, className="ws-num"),
    ])


def build_table(table: Comparison) -> html.Table:
    """The comparison as an accessible table."""
    return html.Table(className="ws-table ws-compare", children=[
        html.Caption(ranking_note(table.min_rank), className="ws-note"),
        html.Thead(html.Tr([html.Th(h, scope="col") for h in HEADINGS])),
        html.Tbody([build_row(row, table.field) for row in table.rows]),
    ])


def build_compare_section(snapshot: Snapshot, view: View, field: str | None,
                          fields: tuple[str, ...], view_query: str, min_sample: int,
                          min_rank: int, theme: str = "dark") -> html.Section:
    """The section: a field chooser, then the table for the chosen field with its small
    multiples beside it."""
    chooser = dcc.Dropdown(id={"type": FIELD, "name": "compare"}, value=field,
                           options=[{"label": f"by {f}", "value": f} for f in fields],
                           placeholder="Compare segments by\u2026", clearable=True,
                           searchable=False, className="ws-field")
    body: list = [html.P("Choose a segment field to compare its values.", className="ws-empty")]
    if field:
        table = compare_segments(snapshot, view, field, min_sample, min_rank)
        body = [html.P("No responses in this window", className="ws-empty")] if not table.rows \
            else [html.Div([build_table(table), build_multiples_panel(
                build_multiples(snapshot, view, table, min_sample), theme)],
                className="ws-compare-body")]
        body.append(html.A("Download CSV", href=csv_href(view_query, field),
                           className="ws-button ws-csv", download=f"nps-compare-{field}.csv"))
    return html.Section(className="ws-section ws-compare-section", children=[
        html.Div([html.H3("Compare segments", className="ws-title"), chooser],
                 className="ws-section-head"),
        *body,
    ])
