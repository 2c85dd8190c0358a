"""REST ingest and events: POST/GET /api/v1/responses, POST/GET/DELETE /api/v1/events."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, jsonify, request
from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator

from app.ingest.http import (
    ApiError,
    check_bearer,
    check_row_id,
    parse_json,
    read_body,
    require_json_type,
    show_value,
)
from app.ingest.rules import TimeRange, clean_label, clean_note
from app.ingest.schema import (
    NAME_RE,
    parse_responses,
    parse_time,
    problems_from,
    time_range_of,
)
from app.metrics import CATEGORY_RANGES
from app.privacy import mask_personal_data
from app.scopes import (
    OutOfScope,
    access_mode_of_request,
    current_scope,
    is_admin_request,
    scoped_args,
)
from app.segments import split_values
from app.services import get_services
from app.windows import ALL, RANGE, days_window, window_days

API = "/api/v1"
MAX_PAGE = 500
IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_RE = re.compile(r"^[\x21-\x7e]{1,255}$")  # printable ASCII, no spaces


class EventIn(BaseModel):
    """An event as POST /api/v1/events takes it."""

    model_config = ConfigDict(extra="forbid")

    label: str
    occurred_at: Any = None
    kind: str = "note"
    note: str | None = None

    @field_validator("label", mode="before")
    @classmethod
    def _label(cls, value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError(f"must be text, got {show_value(value)}")
        return clean_label(value)

    @field_validator("occurred_at", mode="before")
    @classmethod
    def _time(cls, value: Any, info: ValidationInfo) -> datetime | None:
        return None if value is None else parse_time(value, time_range_of(info))

    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, value: Any) -> str:
        if not isinstance(value, str) or not NAME_RE.match(value) or len(value) > 40:
            raise ValueError("must be 1 to 40 letters, digits or _.:- (release, pricing, ...)")
        return value

    @field_validator("note", mode="before")
    @classmethod
    def _note(cls, value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValueError(f"must be text or null, got {show_value(value)}")
        return clean_note(value) or None


def validate_event(fields: dict[str, Any], time_range: TimeRange) -> EventIn:
    """An EventIn from ``fields`` under the shared rules; ValidationError if refused."""
    return EventIn.model_validate(fields, context={"time_range": time_range})


def build_blueprint() -> Blueprint:
    """Routes for REST ingest and events."""
    bp = Blueprint("nps_ingest", __name__)
    bp.post(f"{API}/responses")(post_responses)
    bp.get(f"{API}/responses")(get_responses)
    bp.post(f"{API}/events")(post_event)
    bp.get(f"{API}/events")(get_events)
    bp.patch(f"{API}/events/<int:event_id>")(patch_event)
    bp.delete(f"{API}/events/<int:event_id>")(delete_event)
    return bp


def post_responses():
    """POST /api/v1/responses: validate one response or a list, upsert all or none."""
    settings = get_services().settings
    check_bearer(request, settings.ingest_token, "NPS_TV_INGEST_TOKEN")
    require_json_type(request)
    payload = parse_json(read_body(request, settings.max_body_bytes))
    items = parse_responses(payload, TimeRange.from_settings(settings))
    records = as_configured(with_idempotency_key(items, idempotency_key(request)),
                            settings.segment_fields)
    result = get_services().store.upsert_responses(records)
    status = 201 if result.inserted else 200
    return jsonify({"received": len(items), "inserted": result.inserted,
                    "updated": result.updated, "unchanged": result.unchanged}), status


def get_responses():
    """GET /api/v1/responses: the admin token sees every response; in links mode a share link
    sees only its segments, and no comment text when its comments are hidden."""
    filters, reader = reader_query()
    page = get_services().store.list_responses(**filters)
    if reader != "admin":
        # A link sees what the screens show: personal data masked, comments when allowed.
        page = [{**row, "external_id": mask_personal_data(row["external_id"]),
                 "comment": None if reader == "link-hidden" or row["comment"] is None
                 else mask_personal_data(row["comment"])} for row in page]
    body: dict[str, Any] = {"responses": page}
    if len(page) == filters["limit"]:
        body["next_after_id"] = page[-1]["id"]
    return jsonify(body)


def reader_query(paged: bool = True) -> tuple[dict[str, Any], str]:
    """The store filters a request for stored responses may use, and who reads: ``admin``
    (the admin token or a signed-in admin: everything), ``link`` (a share link: its segments,
    and a wall link's pinned window, only; personal data masked) or ``link-hidden`` (such a
    link that hides comments). Raises the 401 / 403 / 400 of the endpoint; ``paged`` False
    (an export) ignores ``limit``."""
    settings = get_services().settings
    scope = current_scope() if access_mode_of_request() == "links" else None
    if request.headers.get("Authorization") or (scope is None and not is_admin_request()):
        # The admin token (checked here too: a throttled client gets 429 even with the right
        # one) sees everything, as before share links.
        check_bearer(request, settings.admin_token, "NPS_TV_ADMIN_TOKEN")
    if is_admin_request() or request.headers.get("Authorization"):
        scope = None  # a signed-in admin (cookie) or the admin token: no link scope
    args = request.args if paged else {k: v for k, v in request.args.items() if k != "limit"}
    if scope is not None:
        try:
            args = scoped_args(args, scope, settings.segment_fields)
        except OutOfScope as exc:
            raise ApiError.single(403, exc.field, exc.reason, error="out of scope") from None
        args = _pinned_window(args, scope, settings)
    filters = _response_filters(args, settings.segment_fields)
    if scope is None:
        return filters, "admin"
    return filters, "link-hidden" if scope.comments_hidden else "link"


def post_event():
    """POST /api/v1/events: add an event to the trend (admin token)."""
    settings = get_services().settings
    check_bearer(request, settings.admin_token, "NPS_TV_ADMIN_TOKEN")
    require_json_type(request)
    payload = parse_json(read_body(request, settings.max_body_bytes))
    if not isinstance(payload, dict):
        raise ApiError.single(400, "body", "must be an event object")
    try:
        event = validate_event(payload, TimeRange.from_settings(settings))
    except ValidationError as exc:
        raise ApiError(400, problems_from(exc)) from None
    when = event.occurred_at or datetime.now(UTC)
    event_id = get_services().store.add_event(when, event.label, event.kind, event.note)
    return jsonify({"id": event_id, "occurred_at": when.isoformat(), "label": event.label,
                    "kind": event.kind, "note": event.note}), 201


def get_events():
    """GET /api/v1/events: every event (admin token)."""
    check_bearer(request, get_services().settings.admin_token, "NPS_TV_ADMIN_TOKEN")
    return jsonify({"events": [
        {"id": e.id, "occurred_at": e.occurred_at.isoformat(), "label": e.label,
         "kind": e.kind, "note": e.note} for e in get_services().store.list_events()]})


def patch_event(event_id: int):
    """PATCH /api/v1/events/<id>: change some of an event's fields (admin token); the result
    passes the rules of a new event, or nothing changes. 404 when there is none."""
    settings = get_services().settings
    check_bearer(request, settings.admin_token, "NPS_TV_ADMIN_TOKEN")
    require_json_type(request)
    payload = parse_json(read_body(request, settings.max_body_bytes))
    if not isinstance(payload, dict) or not payload:
        raise ApiError.single(400, "body", "must be an object with label, occurred_at, kind "
                                           "or note")
    store = get_services().store
    current = next((e for e in store.list_events() if e.id == event_id), None)
    if current is None:
        raise ApiError.single(404, "id", f"no event with id {event_id}", error="not found")
    merged = {"label": current.label, "occurred_at": current.occurred_at.isoformat(),
              "kind": current.kind, "note": current.note, **payload}
    try:
        event = validate_event(merged, TimeRange.from_settings(settings))
    except ValidationError as exc:
        raise ApiError(400, problems_from(exc)) from None
    when = event.occurred_at or current.occurred_at
    if not store.update_event(event_id, when, event.label, event.kind, event.note):
        raise ApiError.single(404, "id", f"no event with id {event_id}", error="not found")
    return jsonify({"id": event_id, "occurred_at": when.isoformat(), "label": event.label,
                    "kind": event.kind, "note": event.note})


def delete_event(event_id: int):
    """DELETE /api/v1/events/<id>: remove an event (admin token); 404 when there is none."""
    check_bearer(request, get_services().settings.admin_token, "NPS_TV_ADMIN_TOKEN")
    check_row_id(event_id, "event")
    if not get_services().store.remove_event(event_id):
        raise ApiError.single(404, "id", f"no event with id {event_id}", error="not found")
    return "", 204


def as_configured(records: list, fields: tuple[str, ...]) -> list:
    """The records with each segment name spelled as the configured field it names, whatever
    its case (``Region`` is ``region``), as the webhooks read them: stored as sent, it was a
    field of its own that no screen or comparison shows. Two names of one field: a 400."""
    spelled = {name.lower(): name for name in fields}
    out = []
    for i, record in enumerate(records):
        segments: dict[str, str] = {}
        for name, value in record.segments.items():
            field_name = spelled.get(name.lower(), name)
            if field_name in segments:
                raise ApiError.single(400, f"[{i}].segments.{name}", f"names the field "
                                      f"{field_name!r} another name of this item names too")
            segments[field_name] = value
        out.append(record if segments == record.segments
                   else dataclasses.replace(record, segments=segments))
    return out


def idempotency_key(req) -> str | None:
    """The request's Idempotency-Key header (None when absent); 400 when malformed."""
    key = req.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not IDEMPOTENCY_KEY_RE.match(key):
        raise ApiError.single(400, IDEMPOTENCY_HEADER, "must be 1 to 255 printable ASCII "
                                                       "characters without spaces, e.g. a UUID")
    return key


SAID = {"source", "score", "comment", "created_at", "segments"}


def with_idempotency_key(items: list, key: str | None) -> list:
    """The records of ``items``; each sent without an external_id gets one derived from the
    key, its position and what it says.

    A retried batch (same key, same items) then updates what a first attempt may have
    committed although its client saw an error, instead of storing every response twice. A
    key used again for other items stores them as new responses: with the position alone
    they overwrote the responses sent first under it. An id derived that another item of
    the batch gives itself is refused (400), as any repeated id is: one of the two was lost.
    """
    records = [item.to_record() for item in items]
    if key is None:
        return records
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    derived = []
    for i, (record, item) in enumerate(zip(records, items, strict=True)):
        if item.external_id:
            derived.append(record)
            continue
        # What the response says, not how it was sent again: a client that stamps
        # updated_at anew on a retry still retries the same responses.
        said = json.dumps(item.model_dump(mode="json", include=SAID), sort_keys=True,
                          ensure_ascii=False)
        content = hashlib.sha256(said.encode()).hexdigest()[:16]
        derived.append(dataclasses.replace(record, external_id=f"idem-{digest}-{i}-{content}"))
    seen: dict[tuple[str, str], int] = {}
    for i, record in enumerate(derived):
        other = seen.setdefault((record.source, record.external_id), i)
        if other != i:
            raise ApiError.single(400, f"[{i}].external_id", f"is the id the Idempotency-Key "
                                  f"gives item {other}: the same source and external_id "
                                  "appear twice in one request")
    return derived


def _pinned_window(args: Mapping[str, str], scope, settings) -> Mapping[str, str]:
    """A wall link's pinned window (``90d``) as the ``from`` day this endpoint filters by; a
    wall link that pins no window nor dates shows the server's default window, and so reads
    that (it read the whole history, where its wall and comments.csv show 30 days)."""
    if not scope.pinned:
        return args
    view = dict(scope.view)
    window = view.get("window") or (None if "from" in view or "to" in view
                                    else days_window(settings.window_days))
    days = window_days(window) if window not in (None, ALL, RANGE) else None
    if not days:
        return args
    today = datetime.now(ZoneInfo(settings.timezone)).date()
    return {**args, "from": (today - timedelta(days=days - 1)).isoformat()}


def _response_filters(args, segment_fields: tuple[str, ...]) -> dict[str, Any]:
    problems = []

    def integer(name: str, default: int, low: int, high: int) -> int:
        raw = args.get(name)
        if raw is None:
            return default
        if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
            problems.append({"path": name, "message": f"must be an integer from {low} to {high}"})
            return default
        return int(raw)

    def day(name: str, shift: int = 0) -> datetime | None:
        raw = args.get(name)
        if not raw:
            return None
        try:
            value = date.fromisoformat(raw) + timedelta(days=shift)
        except (ValueError, OverflowError):  # 9999-12-31 + 1 day overflows
            problems.append({"path": name, "message": f"must be a date like 2026-01-31, "
                                                      f"got {raw!r}"})
            return None
        return datetime.combine(value, datetime.min.time(), UTC)

    filters: dict[str, Any] = {
        "limit": integer("limit", 100, 1, MAX_PAGE),
        "after_id": integer("after_id", 0, 0, 2**62),
        "created_from": day("from"),
        "created_to": day("to", shift=1),
        "source": args.get("source") or None,
        # product=Ledger,Pulse: either, as on the screens and /api/v1/summary.
        "segments": {k: tuple(split_values(args[k]))
                     for k in segment_fields if args.get(k)},
    }
    category = args.get("category")
    if category:
        if category not in CATEGORY_RANGES:
            problems.append({"path": "category",
                             "message": "must be promoter, passive or detractor"})
        else:
            filters["score_min"], filters["score_max"] = CATEGORY_RANGES[category]
    if problems:
        raise ApiError(400, problems)
    return filters
