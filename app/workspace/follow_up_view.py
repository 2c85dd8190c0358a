"""The follow-up list in the manager (``view=follow-ups``, admins only): the window's
detractors who commented (and the passives with ``passives=1``, the "Include passives"
toggle), in pages of 50, each with a status dropdown (new, contacted, resolved) and an
owner field, saved through ``FollowUps.set`` by a callback that checks the admin again; the
counts per status (each a filter) and the CSV (the same passives choice).
"""

from __future__ import annotations

from dataclasses import replace

from dash import dcc, html

from app.follow_up_api import MAX_OWNER, PAGE_SIZE
from app.ingest.rules import clean_line
from app.panels import format_count
from app.store.follow_ups import STATUSES, FollowUpFilter, FollowUps
from app.views import View
from app.workspace.comment_list import build_row, local_bounds, step_button
from app.workspace.drill import Reader, segments_of
from app.workspace.state import Workspace

STATUS, OWNER, MESSAGE = "fu-status", "fu-owner", "fu-message"
WHO = "admin (manager view)"


def follow_up_filter(view: View, ws: Workspace, tz: str) -> FollowUpFilter:
    """The list's filter: the view's window and segments, and the chosen status."""
    start, end = local_bounds(view.start, view.end, tz)
    return FollowUpFilter(start, end, segments_of(view) or None, passives=ws.passives,
                          status=ws.status)


def build_counts(counts: dict[str, int], chosen: str | None) -> html.Div:
    """One button per status with its count; the chosen one filters the list."""
    buttons = [step_button(f"All {format_count(sum(counts.values()))}", "status=",
                           css="ws-chip" + ("" if chosen else " is-chosen"))]
    buttons += [step_button(f"{s.capitalize()} {format_count(counts.get(s, 0))}", f"status={s}",
                            css="ws-chip" + (" is-chosen" if chosen == s else ""))
                for s in STATUSES]
    return html.Div(buttons, className="ws-counts", role="group",
                    **{"aria-label": "Follow-ups by status"})


def build_passives_toggle(passives: bool) -> html.Button:
    """"Include passives" (detractors only by default), pressed while they are shown."""
    return step_button("Include passives (7\u20138)", "passives=" if passives else "passives=1",
                       css="ws-chip" + (" is-chosen" if passives else ""),
                       title="Show passives as well as detractors")


def build_pager(page: int, total: int, shown: int) -> html.Nav | None:
    """"51\u2013100 of 1,234" and Previous/Next (the total is exact here); None for one page."""
    if total <= PAGE_SIZE and page == 1:
        return None
    first = (page - 1) * PAGE_SIZE + 1
    last = first + shown - 1
    return html.Nav(className="ws-pager fu-pager", **{"aria-label": "Follow-up pages"},
                    children=[
        step_button("\u2039 Previous", f"page={page - 1}", disabled=page <= 1),
        html.Span(f"{format_count(first)}\u2013{format_count(last)} of {format_count(total)}"
                  if shown else f"Nothing on page {page}", className="ws-pager-range",
                  **{"aria-live": "polite"}),
        step_button("Next \u203a", f"page={page + 1}", disabled=page * PAGE_SIZE >= total),
    ])


def build_item(row: dict, reader: Reader) -> html.Li:
    """A detractor's comment with its status and owner controls."""
    rid = row["id"]
    card = build_row({**row, "topics": ()}, True, reader.fields, reader.tz)
    controls = html.Div(className="fu-controls", children=[
        dcc.Dropdown(id={"type": STATUS, "id": rid}, value=row["status"], clearable=False,
                     searchable=False, className="fu-status",
                     options=[{"label": s.capitalize(), "value": s} for s in STATUSES]),
        dcc.Input(id={"type": OWNER, "id": rid}, value=row.get("owner") or "", debounce=True,
                  placeholder="Owner", maxLength=MAX_OWNER, className="fu-owner"),
    ])
    return html.Li([card, controls], className="fu-item", **{"data-id": str(rid)})


def build_follow_ups(view: View, ws: Workspace, reader: Reader,
                     csv_query: str) -> html.Section:
    """The section (the caller shows it to admins only)."""
    book = FollowUps(reader.store)
    wanted = follow_up_filter(view, ws, reader.tz)
    counts = book.counts(replace(wanted, status=None))
    total = counts[ws.status] if ws.status else sum(counts.values())
    page = min(ws.page, max(1, -(-total // PAGE_SIZE)))
    rows = book.list(wanted, PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    items = [build_item(r, reader) for r in rows]
    body = html.Ol(items, className="ws-comments fu-list") if items else html.P(
        "Nobody to follow up in this window", className="ws-empty")
    who = "Detractors and passives" if ws.passives else "Detractors"
    return html.Section(className="ws-section ws-follow-ups", children=[
        html.Div([html.H3(f"Follow-ups \u00b7 {view.label}", className="ws-title"),
                  html.A("Download CSV", href=f"/api/v1/follow-ups.csv?{csv_query}",
                         download="nps-follow-ups.csv", className="ws-button ws-csv")],
                 className="ws-section-head"),
        html.Div([build_counts(counts, ws.status), build_passives_toggle(ws.passives)],
                 className="fu-filters"),
        html.P(f"{who} who commented, newest first.", className="ws-note"),
        html.P(id=MESSAGE, className="ws-note", role="status"),
        build_pager(page, total, len(rows)),
        body,
    ])


def save_follow_up(store, response_id: object, status: object, owner: object) -> str:
    """Write one row's status and owner; the message to show."""
    if not isinstance(response_id, int) or isinstance(response_id, bool) \
            or not 1 <= response_id < 2**62:  # a forged id past BIGINT would reach the driver
        return "Not saved: no such follow-up"
    if status not in STATUSES:
        return f"Not saved: status must be one of {', '.join(STATUSES)}"
    try:
        who = clean_line(owner, MAX_OWNER) if isinstance(owner, str) else ""
    except ValueError as exc:
        return f"Not saved: owner {exc}"
    if not FollowUps(store).set(response_id, status, who or None, WHO):
        return "Not saved: no such response"
    return f"Saved: response {response_id} is {status}" + (f", owner {who}" if who else "")
