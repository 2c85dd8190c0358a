"""The manager's data out: segment comparison (JSON and CSV) and the streaming responses CSV.

- ``GET /api/v1/compare?field=region&window=30d&product=Ledger``: every value of one segment
  field within the filters, ranked fairly (``app.comparison``); gated like ``/api/v1/summary``
  (a share link sees its own segments only).
- ``GET /api/v1/compare.csv``: the same table as CSV.
- ``GET /api/v1/responses.csv``: the responses ``GET /api/v1/responses`` would page through,
  all of them, streamed (``app.export``); the admin token sees every comment as stored, a
  share link its segments with personal data masked (no comments when it hides them).
- ``GET /api/v1/comments.csv?q=slow&category=detractor&topic=Pricing&window=30d&region=EMEA``:
  the comment explorer's own filters (``app.workspace.explorer.comment_query``: search words
  and "phrases", score category, topic, segments, window or from/to), every match streamed,
  newest first; personal data masked unless the reader is an admin, as the explorer shows
  it; 403 under a share link that hides comments.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request, stream_with_context

from app.api import API_PREFIX, link_scoped_args, view_request
from app.comparison import compare_segments
from app.export import (
    COMPARISON_COLUMNS,
    comparison_rows,
    response_columns,
    response_rows,
    stream_csv,
)
from app.ingest.http import ApiError, check_bearer
from app.ingest.rest import reader_query
from app.ingest.rules import clean_line
from app.metrics import CATEGORY_NAMES, categorize
from app.privacy import clean_for_display, mask_personal_data
from app.scopes import current_scope, is_admin_request
from app.services import get_services
from app.store.search import search_terms
from app.workspace.explorer import comment_query
from app.workspace.state import CATEGORIES, Workspace

EXPORT_PAGE = 5_000  # rows read from the store at a time
CATEGORY_OF = [CATEGORY_NAMES[categorize(score)] for score in range(11)]


def build_export_blueprint() -> Blueprint:
    """The comparison and export routes."""
    bp = Blueprint("export", __name__)
    bp.get(f"{API_PREFIX}/compare")(get_compare)
    bp.get(f"{API_PREFIX}/compare.csv")(get_compare_csv)
    bp.get(f"{API_PREFIX}/responses.csv")(get_responses_csv)
    bp.get(f"{API_PREFIX}/comments.csv")(get_comments_csv)
    return bp


def _comparison() -> dict[str, Any]:
    services = get_services()
    settings = services.settings
    args = link_scoped_args(settings.segment_fields)
    field = (args.get("field") or "").strip()
    if field not in settings.segment_fields:
        raise ApiError.single(400, "field", "must be one of the segment fields: "
                                            + ", ".join(settings.segment_fields))
    req = view_request(args)
    snapshot = services.poller.snapshot
    view = services.poller.view(req, snapshot=snapshot)
    table = compare_segments(snapshot, view, field, settings.min_sample,
                             settings.compare_min_responses)
    return {"field": field, "window": {"label": view.label, "start": view.start.isoformat(),
                                       "end": view.end.isoformat()},
            "ranked_by": table.ranked_by, "min_rank": table.min_rank,
            "rows": [row.as_dict() for row in table.rows],
            "snapshot_version": snapshot.version}


def get_compare():
    """GET /api/v1/compare: the comparison table as JSON."""
    return jsonify(_comparison())


def get_compare_csv():
    """GET /api/v1/compare.csv: the comparison table as CSV (Excel-safe)."""
    body = _comparison()
    text = "".join(stream_csv(COMPARISON_COLUMNS, comparison_rows(body["rows"])))
    return _csv_response(text, f"nps-compare-{body['field']}.csv")


def get_responses_csv():
    """GET /api/v1/responses.csv: every matching response, streamed in pages by id (the
    first page is read before the answer starts, so a store failure is still a 503)."""
    filters, reader = reader_query(paged=False)
    settings = get_services().settings
    pages = get_services().store.export_rows(settings.segment_fields, EXPORT_PAGE, **filters)
    rows = response_rows(pages, None if reader == "admin" else _masked,
                         hide_comments=reader == "link-hidden")
    chunks = stream_csv(response_columns(settings.segment_fields), rows)
    return _csv_response(stream_with_context(chunks), "nps-responses.csv")


MAX_FILTER = 200  # characters of the search box or a topic, as the workspace's URL keeps
COMMENT_COLUMNS = ("id", "created_at", "score", "category", "comment")


def _explorer_filters() -> Workspace:
    """The explorer's ``q``, ``category`` and ``topic`` of the request; 400 naming a bad one."""
    args = request.args
    category = (args.get("category") or "").strip().lower() or None
    if category is not None and category not in CATEGORIES:
        raise ApiError.single(400, "category", f"must be one of {', '.join(CATEGORIES)}")
    values = {}
    for name in ("q", "topic"):
        try:
            values[name] = clean_line(args.get(name) or "", MAX_FILTER)
            if name == "q":
                search_terms(values[name])
        except ValueError as exc:
            raise ApiError.single(400, name, str(exc)) from None
    return Workspace(q=values["q"], category=category, topic=values["topic"] or None)


def get_comments_csv():
    """GET /api/v1/comments.csv: what the comment explorer finds, streamed (the first page is
    read before the answer starts, so a store failure is still a 503)."""
    services = get_services()
    settings = services.settings
    if request.headers.get("Authorization"):
        check_bearer(request, settings.admin_token, "NPS_TV_ADMIN_TOKEN")
    admin = is_admin_request() or bool(request.headers.get("Authorization"))
    scope = None if admin else current_scope()
    if scope is not None and scope.comments_hidden:
        raise ApiError.single(403, "comments", "this link does not share customers' comments",
                              error="out of scope")
    view = services.poller.view(view_request(link_scoped_args(settings.segment_fields)))
    query = comment_query(view, _explorer_filters(), settings.timezone)
    pages = services.store.export_comments(query, settings.segment_fields, EXPORT_PAGE)
    shown = (lambda text: text) if admin else clean_for_display
    rows = (_comment_row(row, shown) for page in pages for row in page)
    header = [*COMMENT_COLUMNS, *settings.segment_fields, "topics"]
    return _csv_response(stream_with_context(stream_csv(header, rows)), "nps-comments.csv")


def _comment_row(row: tuple, shown) -> tuple:
    i, created, score, text, segments, topics = row
    return (i, created, score, CATEGORY_OF[score], shown(text), *segments, topics)


def _masked(text: str | None) -> str | None:
    return None if text is None else mask_personal_data(text)


def _csv_response(body: Any, filename: str) -> Response:
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
