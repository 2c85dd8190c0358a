"""A paged list of comments from the store's search, shared by the drill-downs and the
explorer: score badges, the verbatim (personal data masked unless the reader is an admin),
time, segment and topic chips, and a pager ("1–50 of 1,234") whose buttons are steps."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dash import html
from dash.development.base_component import Component

from app.panels import CHIP_CHARS, category_name, format_count
from app.privacy import clean_for_display, cut_at_word, neutralise_direction
from app.store.search import COUNT_CAP, CommentQuery

STEP = "ws-step"  # the pattern id type of every workspace button that changes the URL
FIELD = "ws-field"  # ... and of every workspace input whose value is a URL parameter
PAGE_SIZE = 50
COMMENT_CHARS = 1_000
HIDDEN = "Customers' comments are not shared through this link"


def step_button(label: str, step: str, *, css: str = "ws-button", title: str | None = None,
                disabled: bool = False) -> html.Button:
    """A button whose click applies ``step`` ("view=comments", "page=2") to the URL."""
    return html.Button(label, id={"type": STEP, "step": step}, className=css, title=title,
                       disabled=disabled, n_clicks=0)


def local_bounds(first: date, last: date, tz: str) -> tuple[datetime, datetime]:
    """UTC instants from the start of ``first`` to the end of ``last`` in the display zone
    (the end exclusive), as the store's search takes them."""
    zone = ZoneInfo(tz)
    start = datetime.combine(first, time.min, tzinfo=zone).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone).astimezone(UTC)
    return start, end


def shown_text(text: str | None, admin: bool, limit: int = COMMENT_CHARS) -> str:
    """A comment as this reader may see it: masked for everyone but an admin."""
    if admin:
        return cut_at_word(neutralise_direction(text or ""), limit)
    return clean_for_display(text, limit)


def build_row(row: dict, admin: bool, fields: tuple[str, ...], tz: str) -> html.Div:
    """One comment of a search result."""
    category = category_name(row["score"])
    when = datetime.fromisoformat(row["created_at"])
    when = (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(ZoneInfo(tz))
    segments = row.get("segments") or {}
    chips = [html.Span(clean_for_display(segments[f], CHIP_CHARS), className="chip chip-segment",
                       title=f) for f in fields if segments.get(f)]
    chips += [html.Span(clean_for_display(t, CHIP_CHARS), className="chip chip-topic")
              for t in row.get("topics") or ()]
    return html.Li(className="ws-comment", **{"data-category": category,
                                             "data-id": str(row["id"])}, children=[
        html.Span(str(row["score"]), className=f"comment-badge badge-{category}",
                  title=f"{category} (score {row['score']})"),
        html.Div(className="ws-comment-body", children=[
            html.P(shown_text(row.get("comment"), admin), className="ws-comment-text"),
            html.Div([html.Time(when.strftime("%Y-%m-%d %H:%M"), className="ws-comment-time",
                                dateTime=when.isoformat(timespec="minutes")), *chips],
                     className="ws-comment-meta"),
        ]),
    ])


MAX_DEEP_PAGE = 200  # 10,000 comments in pages of 50


def describe_page(page: int, total: int, size: int = PAGE_SIZE, shown: int | None = None
                  ) -> str:
    """"1–50 of 1,234", "0 comments", "51–60 of 60", or past the count's cap
    "1,001–1,050 of more than 1,000" (``shown``: the rows on this page)."""
    if total <= 0:
        return "0 comments"
    if total > COUNT_CAP:
        first = (page - 1) * size + 1
        last = first + (size if shown is None else shown) - 1
        return (f"{format_count(first)}\u2013{format_count(last)} of more than "
                f"{format_count(COUNT_CAP)}")
    first = min((page - 1) * size + 1, total)
    last = min(page * size, total)
    return f"{format_count(first)}\u2013{format_count(last)} of {format_count(total)}"


def last_page(total: int, size: int = PAGE_SIZE) -> int:
    """The number of the last page (1 when there is nothing)."""
    return max(1, -(-total // size))


def build_pager(page: int, total: int, shown: int = PAGE_SIZE) -> html.Nav:
    """The range shown and Previous/Next buttons (past the count's cap, Next stays while a
    page is full)."""
    more = shown >= PAGE_SIZE if total > COUNT_CAP else page < last_page(total)
    return html.Nav(className="ws-pager", **{"aria-label": "Pages"}, children=[
        step_button("\u2039 Previous", f"page={page - 1}", disabled=page <= 1),
        html.Span(describe_page(page, total, shown=shown), className="ws-pager-range",
                  **{"aria-live": "polite"}),
        step_button("Next \u203a", f"page={page + 1}", disabled=not more),
    ])


def build_comment_list(store, query: CommentQuery, page: int, *, admin: bool,
                       comments_shown: bool, fields: tuple[str, ...], tz: str
                       ) -> list[Component]:
    """The pager and one page of the search (a message when the link hides comments)."""
    if not comments_shown:
        return [html.P(HIDDEN, className="ws-empty")]
    total = store.count_comments(query)
    # Past the cap the last page is not known: pages up to MAX_DEEP_PAGE may be asked (a deep
    # OFFSET reads every row before it, so there is a bound).
    page = min(page, last_page(total) if total <= COUNT_CAP else MAX_DEEP_PAGE)
    rows = store.search_comments(replace(query, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE))
    if not rows:
        return [html.P("No comments match", className="ws-empty")]
    return [build_pager(page, total, len(rows)),
            html.Ol([build_row(r, admin, fields, tz) for r in rows], className="ws-comments")]
