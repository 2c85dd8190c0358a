"""The comment explorer (``view=comments``): a search box (words and "quoted phrases", Enter
to search), category, topic and sort, a pager, and the CSV of what it finds
(``/api/v1/comments.csv`` with the same filters; masked as shown here unless an admin).

Every control is a URL parameter (``q``, ``category``, ``topic``, ``sort``, ``page``); the
search runs within the screen's window and segments, so a share link's scope bounds it.
"""

from __future__ import annotations

from urllib.parse import urlencode

from dash import dcc, html

from app.panels import CHIP_CHARS
from app.privacy import clean_for_display
from app.segments import join_values
from app.store.search import CommentQuery
from app.views import View
from app.workspace.comment_list import FIELD, build_comment_list, local_bounds
from app.workspace.drill import Reader, segments_of
from app.workspace.state import CATEGORIES, Workspace

SORT_LABELS = (("newest", "Newest first"), ("oldest", "Oldest first"),
               ("score_low", "Lowest score first"), ("score_high", "Highest score first"))


def comment_query(view: View, ws: Workspace, tz: str) -> CommentQuery:
    """The store query of the explorer's controls within the view."""
    start, end = local_bounds(view.start, view.end, tz)
    return CommentQuery(text=ws.q, created_from=start, created_to=end,
                        segments=segments_of(view), category=ws.category, topic=ws.topic,
                        sort=ws.sort)


def export_href(view: View, ws: Workspace) -> str:
    """The comments CSV of the explorer's filters: the view's days and segments, the search,
    category and topic."""
    params = [("from", view.start.isoformat()), ("to", view.end.isoformat())]
    params += [(name, join_values(values)) for name, values in view.request.segments]
    params += [(name, value) for name, value in (("q", ws.q), ("category", ws.category),
                                                 ("topic", ws.topic)) if value]
    return "/api/v1/comments.csv?" + urlencode(params, safe=",")


def _dropdown(name: str, value: str | None, options: list[dict], placeholder: str,
              clearable: bool = True) -> dcc.Dropdown:
    return dcc.Dropdown(id={"type": FIELD, "name": name}, value=value, options=options,
                        placeholder=placeholder, clearable=clearable, searchable=False,
                        className=f"ws-field ws-field--{name}")


def build_controls(ws: Workspace, topic_names: tuple[str, ...]) -> html.Div:
    """The search box and the filters."""
    return html.Div(className="ws-controls", role="search", children=[
        html.Label([html.Span("Search", className="ws-label"),
                    dcc.Input(id={"type": FIELD, "name": "q"}, type="search", value=ws.q,
                              debounce=True, placeholder='Words or "a phrase", then Enter',
                              className="ws-search", maxLength=200, autoComplete="off")],
                   className="ws-search-label"),
        _dropdown("category", ws.category, [{"label": c.capitalize() + "s", "value": c}
                                            for c in CATEGORIES], "Any score"),
        _dropdown("topic", ws.topic, [{"label": clean_for_display(t, CHIP_CHARS), "value": t}
                                      for t in topic_names], "Any topic"),
        _dropdown("sort", ws.sort, [{"label": label, "value": v} for v, label in SORT_LABELS],
                  "Sort", clearable=False),
    ])


def build_explorer(view: View, ws: Workspace, reader: Reader,
                   topic_names: tuple[str, ...]) -> html.Section:
    """The explorer section."""
    try:
        listing = build_comment_list(reader.store, comment_query(view, ws, reader.tz), ws.page,
                                     admin=reader.admin, comments_shown=reader.comments_shown,
                                     fields=reader.fields, tz=reader.tz)
    except ValueError as exc:  # a phrase over the length limit, too many words
        listing = [html.P(f"Search not run: {exc}", className="ws-empty")]
    export = html.A("Download CSV", href=export_href(view, ws), download="nps-comments.csv",
                    className="ws-button ws-csv",
                    title="Every comment these filters find") if reader.comments_shown else None
    masked = None if reader.admin else html.P(
        "Personal data (e-mail addresses, phone and card numbers) is masked.",
        className="ws-note")
    return html.Section(className="ws-section ws-explorer", children=[
        html.Div([html.H3(f"Comments \u00b7 {view.label}", className="ws-title"), export],
                 className="ws-section-head"),
        build_controls(ws, topic_names), masked, *listing,
    ])
