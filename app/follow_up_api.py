"""Follow-ups over HTTP (admin only: the list holds customers' own words and who calls them).

- ``GET /api/v1/follow-ups?window=7d&product=Ledger&passives=1&status=new&page=2``:
  detractors (and passives when asked) who commented in the window, newest first, in pages of
  50 (``limit`` up to 500), with their status, owner and last change, plus ``counts`` per
  status, ``total`` (the list's length) and ``next_page`` (null on the last page);
  ``before_id`` / ``next_before_id`` page on by id instead.
- ``PUT /api/v1/follow-ups/<response id>`` with ``{"status": "contacted", "owner": "Ana"}``.
- ``GET /api/v1/follow-ups.csv``: the whole list, streamed and Excel-safe.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, jsonify, request, stream_with_context
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from app.api import API_PREFIX, view_request
from app.export import stream_csv
from app.ingest.http import (
    ApiError,
    check_bearer,
    check_row_id,
    parse_json,
    read_body,
    require_json_type,
)
from app.ingest.rules import clean_line
from app.ingest.schema import problems_from
from app.scopes import is_admin_request
from app.services import get_services
from app.store.follow_ups import STATUSES, FollowUpFilter, FollowUps
from app.views import ViewRequest
from app.windows import ALL, RANGE, window_days

MAX_PAGE = 500
PAGE_SIZE = 50  # the list's page, here and in the manager's follow-up view
MAX_PAGE_NUMBER = 100_000
MAX_OWNER = 100
CSV_COLUMNS = ["id", "created_at", "score", "comment", "status", "owner", "updated_at",
               "updated_by"]


class FollowUpIn(BaseModel):
    """A status change as PUT takes it."""

    model_config = ConfigDict(extra="forbid")

    status: str
    owner: str | None = None

    @field_validator("status", mode="before")
    @classmethod
    def _status(cls, value: Any) -> str:
        if value not in STATUSES:
            raise ValueError(f"must be one of {', '.join(STATUSES)}")
        return value

    @field_validator("owner", mode="before")
    @classmethod
    def _owner(cls, value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValueError("must be text or null")
        return clean_line(value, MAX_OWNER) or None


def build_follow_up_blueprint() -> Blueprint:
    """The follow-up routes."""
    bp = Blueprint("follow_ups", __name__)
    bp.get(f"{API_PREFIX}/follow-ups")(get_follow_ups)
    bp.get(f"{API_PREFIX}/follow-ups.csv")(get_follow_ups_csv)
    bp.put(f"{API_PREFIX}/follow-ups/<int:response_id>")(put_follow_up)
    return bp


def _require_admin() -> None:
    """The admin token, or an admin signed in at /admin (the gate set ``g.admin``)."""
    if request.headers.get("Authorization") or not is_admin_request():
        check_bearer(request, get_services().settings.admin_token, "NPS_TV_ADMIN_TOKEN")


def _book() -> FollowUps:
    return FollowUps(get_services().store)


def _wanted() -> FollowUpFilter:
    """The list's filter from the query string; 400 naming a bad parameter."""
    settings = get_services().settings
    req = view_request(request.args)
    status = request.args.get("status") or None
    if status is not None and status not in STATUSES:
        raise ApiError.single(400, "status", f"must be one of {', '.join(STATUSES)}")
    first, last = _bounds(req, settings.timezone)
    return FollowUpFilter(first, last, dict(req.segments) or None, passives_wanted(), status)


def passives_wanted() -> bool:
    """``passives=1`` (or ``true``) includes the passives; 400 naming it for anything else."""
    passives = (request.args.get("passives") or "false").lower()
    if passives not in ("true", "false", "1", "0"):
        raise ApiError.single(400, "passives", "must be 1 or 0 (true or false)")
    return passives in ("true", "1")


def _number(name: str, default: int, high: int) -> int:
    """A positive integer parameter up to ``high``; 400 naming it otherwise."""
    raw = request.args.get(name, str(default))
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= high:
        raise ApiError.single(400, name, f"must be an integer from 1 to {high}")
    return int(raw)


def _bounds(req: ViewRequest, tz: str) -> tuple[datetime | None, datetime | None]:
    """The window as UTC instants: [first day 00:00, day after the last 00:00) in ``tz``."""
    zone = ZoneInfo(tz)
    today = datetime.now(zone).date()
    if req.window == ALL:
        return None, None
    if req.window == RANGE:
        start, end = req.start, req.end or today
    else:
        end = today
        start = today - timedelta(days=(window_days(req.window) or 1) - 1)

    def instant(day: date | None) -> datetime | None:
        if day is None:
            return None
        return datetime.combine(day, datetime.min.time(), zone).astimezone(UTC)

    return instant(start), instant(end + timedelta(days=1))


def get_follow_ups():
    """GET /api/v1/follow-ups: a page of the list, the counts per status, the total."""
    _require_admin()
    wanted = _wanted()
    limit = _number("limit", PAGE_SIZE, MAX_PAGE)
    number = _number("page", 1, MAX_PAGE_NUMBER)
    before = request.args.get("before_id")
    if before is not None and not (before.isascii() and before.isdigit()
                                   and int(before) < 2**62):
        raise ApiError.single(400, "before_id", "must be a response id")
    if before is not None and "page" in request.args:
        raise ApiError.single(400, "page", "page and before_id cannot be used together")
    book = _book()
    page = book.list(wanted, limit, int(before) if before else None,
                     offset=(number - 1) * limit)
    counts = book.counts(wanted)
    total = sum(counts.values())
    body: dict[str, Any] = {"follow_ups": page, "counts": counts, "total": total,
                            "page": number,
                            "next_page": number + 1 if number * limit < total else None}
    if len(page) == limit:
        body["next_before_id"] = page[-1]["id"]
    return jsonify(body)


def get_follow_ups_csv():
    """GET /api/v1/follow-ups.csv: the whole list as CSV, one segment column per field."""
    _require_admin()
    wanted = _wanted()
    fields = get_services().settings.segment_fields
    rows = ([r["id"], r["created_at"], r["score"], r["comment"], r["status"], r["owner"],
             r["updated_at"], r["updated_by"], *(r["segments"].get(f, "") for f in fields)]
            for page in _book().pages(wanted) for r in page)
    response = Response(stream_with_context(stream_csv([*CSV_COLUMNS, *fields], rows)),
                        mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="nps-follow-ups.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response


def put_follow_up(response_id: int):
    """PUT /api/v1/follow-ups/<id>: set the status and owner; 404 when no such response."""
    _require_admin()
    settings = get_services().settings
    require_json_type(request)
    payload = parse_json(read_body(request, settings.max_body_bytes))
    if not isinstance(payload, dict):
        raise ApiError.single(400, "body", "must be an object with status and owner")
    try:
        change = FollowUpIn.model_validate(payload)
    except ValidationError as exc:
        raise ApiError(400, problems_from(exc)) from None
    check_row_id(response_id, "response")
    if not _book().set(response_id, change.status, change.owner, "admin"):
        raise ApiError.single(404, "id", f"no response with id {response_id}",
                              error="not found")
    return jsonify({"id": response_id, "status": change.status, "owner": change.owner})
