"""The REST payloads, validated with pydantic; every refusal names its path and reason.

The shared input rules (app.ingest.rules) decide what text and times are acceptable; the
plausible time range comes from the app's settings through pydantic's validation context
(``{"time_range": TimeRange}``), defaulting to the default range when none is given.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from app.ingest.http import ApiError, show_value
from app.ingest.rules import (
    CONTROL_RE,  # noqa: F401 - re-exported for the vendor mappings
    MAX_COMMENT,
    MAX_SEGMENT_VALUE,  # noqa: F401 - re-exported for the vendor mappings
    MAX_SEGMENTS,
    SEGMENT_NAME_RE,
    SEGMENT_NAME_RULE,
    TimeRange,
    check_segment_name,
    clean_comment,
    clean_external_id,
    clean_segment_value,
    parse_iso_time,
)
from app.store import ResponseRecord

MAX_BATCH = 1000
NAME_RE = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}\Z")  # \Z: "$" passes "api\n"
SEGMENT_KEY_RE = SEGMENT_NAME_RE  # the shared rule (app.ingest.rules), for the vendor mappings


def parse_score(value: Any, low: int = 0, high: int = 10) -> int:
    """An integer score in range; bools, floats (9.0 too), NaN and strings are refused."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"must be an integer from {low} to {high}, got {show_value(value)}")
    return value


def parse_time(value: Any, time_range: TimeRange | None = None) -> datetime:
    """An ISO 8601 time with a zone (a naive time is an error, not a guess), in UTC; within
    ``time_range`` when one is given."""
    if isinstance(value, datetime):
        moment = value
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"must include a time zone (Z or +01:00), got {show_value(value)}")
    elif isinstance(value, str):
        moment = parse_iso_time(value)
    else:
        raise ValueError(f"must be an ISO 8601 time string, got {show_value(value)}")
    if time_range is not None:
        time_range.check(moment)
    return moment.astimezone(UTC)


def time_range_of(info: ValidationInfo) -> TimeRange:
    """The plausible range passed in the validation context, else the default one."""
    context = info.context or {}
    return context.get("time_range") or TimeRange()


def _segment_value(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"must be a string, got {show_value(value)}")
    return clean_segment_value(str(value))


# A per-value validator, so a refusal names its path: segments.plan
SegmentValue = Annotated[str, BeforeValidator(_segment_value)]


class ResponseIn(BaseModel):
    """One response as POST /api/v1/responses takes it."""

    model_config = ConfigDict(extra="forbid")

    score: Any
    comment: str | None = None
    created_at: Any = None
    external_id: str | None = None
    source: str = "api"
    segments: dict[str, SegmentValue] = {}
    excluded: Any = False
    # The sender's time of this version of the response: a post older than the stored
    # version never overwrites it (a retry arriving after a later correction).
    updated_at: Any = None

    _score = field_validator("score", mode="before")(lambda v: parse_score(v))

    @field_validator("created_at", "updated_at", mode="before")
    @classmethod
    def _time(cls, value: Any, info: ValidationInfo) -> datetime | None:
        return None if value is None else parse_time(value, time_range_of(info))

    @field_validator("comment", mode="before")
    @classmethod
    def _comment(cls, value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValueError(f"must be a string or null, got {show_value(value)}")
        return clean_comment(value, MAX_COMMENT) or None

    @field_validator("external_id", mode="before")
    @classmethod
    def _external_id(cls, value: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise ValueError(f"must be a string or an integer, got {show_value(value)}")
        return clean_external_id(str(value))

    @field_validator("source", mode="before")
    @classmethod
    def _source(cls, value: Any) -> str:
        if not isinstance(value, str) or not NAME_RE.match(value):
            raise ValueError(f"must be 1 to 64 letters, digits or _.:- , got {show_value(value)}")
        return value

    @field_validator("segments", mode="before")
    @classmethod
    def _segment_names(cls, value: Any) -> dict[str, Any]:
        # Names and count here; each value is checked by SegmentValue under its own path.
        if not isinstance(value, dict):
            raise ValueError(f"must be an object of name: text, got {show_value(value)}")
        if len(value) > MAX_SEGMENTS:
            raise ValueError(f"has {len(value)} properties; the limit is {MAX_SEGMENTS}")
        for key in value:
            try:
                check_segment_name(key)
            except ValueError:
                raise ValueError(f"property name {show_value(key)} must be "
                                 f"{SEGMENT_NAME_RULE}") from None
        return value

    @field_validator("segments", mode="after")
    @classmethod
    def _drop_blank_segments(cls, value: dict[str, str]) -> dict[str, str]:
        return {key: text for key, text in value.items() if text}

    @field_validator("excluded", mode="before")
    @classmethod
    def _excluded(cls, value: Any) -> bool:
        if not isinstance(value, bool):
            raise ValueError(f"must be true or false, got {show_value(value)}")
        return value

    def to_record(self) -> ResponseRecord:
        """The store record; a missing external id makes a new response every time.

        A missing ``created_at`` is left to the store: now for a new response, while a repeat
        keeps the time first stored (a retried post must not move a response to a later day).
        """
        return ResponseRecord(
            source=self.source, external_id=self.external_id or uuid.uuid4().hex,
            score=self.score, created_at=self.created_at, comment=self.comment,
            segments=self.segments, excluded=self.excluded, source_updated_at=self.updated_at)


MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "is not a known field",
    "model_type": "must be an object",
    "dict_type": "must be an object",
    "string_type": "must be a string",
}


def problems_from(error: ValidationError, prefix: str = "") -> list[dict[str, str]]:
    """Pydantic errors as [{path, message}] with paths like ``[3].score``."""
    out = []
    for item in error.errors():
        path = prefix
        for part in item["loc"]:
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
        message = MESSAGES.get(item["type"], item["msg"])
        message = message.removeprefix("Value error, ")
        out.append({"path": path or "body", "message": message})
    return out


def parse_responses(payload: Any, time_range: TimeRange | None = None) -> list[ResponseIn]:
    """One object or a list of up to MAX_BATCH; all valid or ApiError listing every problem.

    Times must lie in ``time_range`` (the default range when None).
    """
    context = {"time_range": time_range or TimeRange()}
    single = isinstance(payload, dict)
    items: Sequence[Any] = [payload] if single else payload
    if not single and not isinstance(payload, list):
        raise ApiError.single(400, "body", "must be a response object or a list of them")
    if not items:
        raise ApiError.single(400, "body", "is an empty list; send at least one response")
    if len(items) > MAX_BATCH:
        raise ApiError.single(413, "body", f"has {len(items)} responses; the limit is "
                                           f"{MAX_BATCH} per request", error="payload too large")
    parsed, problems = [], []
    for index, item in enumerate(items):
        prefix = "" if single else f"[{index}]"
        if not isinstance(item, dict):
            problems.append({"path": prefix or "body", "message": "must be an object"})
            continue
        try:
            parsed.append(ResponseIn.model_validate(item, context=context))
        except ValidationError as exc:
            problems.extend(problems_from(exc, prefix))
    keys = [(r.source, r.external_id) for r in parsed if r.external_id]
    if len(keys) != len(set(keys)):
        problems.append({"path": "body", "message": "the same source and external_id appear "
                                                    "twice in one request"})
    if problems:
        raise ApiError(400, problems)
    return parsed
