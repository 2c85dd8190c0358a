"""The manager's data out: segment comparison (JSON and CSV) and the streaming responses CSV.

- ``GET /api/v1/compare?field=region&window=30d&product=Ledger``: every value of one segment
  field within the filters, ranked fairly (``app.comparison``); gated like ``/api/v1/summary``
  (a share link sees its own segments only).
- ``GET /api/v1/compare.csv``: the same table as CSV.
- ``GET /api/v1/responses.csv``: the responses ``GET /api/v1/responses`` would page through,
  all of them, streamed (``app.export``); the admin token sees every comment as stored, a
  share link its segments with personal data masked (no comments when it hides them).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, stream_with_context

from app.api import API_PREFIX, link_scoped_args, view_request
from app.comparison import compare_segments
from app.export import (
    COMPARISON_COLUMNS,
    comparison_rows,
    response_columns,
    response_rows,
    stream_csv,
)
from app.ingest.http import ApiError
from app.ingest.rest import reader_query
from app.privacy import mask_personal_data
from app.services import get_services

EXPORT_PAGE = 5_000  # rows read from the store at a time


def build_export_blueprint() -> Blueprint:
    """The comparison and export routes."""
    bp = Blueprint("export", __name__)
    bp.get(f"{API_PREFIX}/compare")(get_compare)
    bp.get(f"{API_PREFIX}/compare.csv")(get_compare_csv)
    bp.get(f"{API_PREFIX}/responses.csv")(get_responses_csv)
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


def _masked(text: str | None) -> str | None:
    return None if text is None else mask_personal_data(text)


def _csv_response(body: Any, filename: str) -> Response:
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
