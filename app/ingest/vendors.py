"""Survey-tool webhook payloads mapped onto store records (signatures: ``signatures.py``).

Pure functions: a decoded payload in, a list of records (or an ``Ignored`` marker) out. Values
pass the shared input rules (``rules.py``); each record carries the vendor's own time of that
version, so the store keeps the newest. Every refusal is an ApiError naming the field and the
reason; nothing here touches the store.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from app.ingest.http import ApiError, show_value
from app.ingest.rules import (
    MAX_ID,
    TimeRange,
    clean_comment,
    clean_line,
    clean_segment_value,
    parse_ascii_int,
    parse_iso_time,
)
from app.ingest.schema import SEGMENT_KEY_RE, parse_score
from app.store import ResponseRecord

SegmentMap = tuple[tuple[str, str], ...]  # (our segment, vendor property lower-cased)
DEFAULT_TIMES = TimeRange()
# ASCII only: \d would take Arabic-Indic or fullwidth digits, which float() reads.
UNIX_TEXT_RE = re.compile(r"\s*\d{1,15}(\.\d+)?\s*", re.ASCII)
MAX_COUNT = 999_999  # AskNicely's per-response delivery count, kept in a time's microseconds


@dataclass(frozen=True)
class Ignored:
    """An event we acknowledge (200) and do not store, such as an unsubscribe."""

    event: str


Mapped = list[ResponseRecord] | Ignored


@lru_cache(maxsize=16)
def build_segment_map(webhook_segments: tuple[str, ...],
                      segment_fields: tuple[str, ...]) -> SegmentMap:
    """Our segment -> vendor property; each segment field defaults to its own name."""
    pairs = {name: name.lower() for name in segment_fields}
    for item in webhook_segments:
        segment, sep, prop = (part.strip() for part in item.partition("="))
        if not sep or not SEGMENT_KEY_RE.match(segment) or not prop:
            raise ValueError(f"NPS_TV_WEBHOOK_SEGMENTS: {item!r} must look like "
                             "segment=Property, e.g. product=Product")
        pairs[segment] = prop.lower()
    return tuple(pairs.items())


class _Check:
    """Collects every problem in one payload, so a single 400 lists them all."""

    def __init__(self, times: TimeRange = DEFAULT_TIMES, now: datetime | None = None) -> None:
        self.problems: list[dict[str, str]] = []
        self.times, self.now = times, now

    def fail(self, path: str, message: str) -> None:
        self.problems.append({"path": path, "message": message})

    def take(self, path: str, parse: Callable[[Any], Any], value: Any) -> Any:
        try:
            return parse(value)
        except ValueError as exc:
            self.fail(path, str(exc))
            return None

    def time(self, path: str, value: Any, required: bool = True) -> datetime | None:
        """A vendor time within the plausible range; an absent optional one is None."""
        if not required and value in (None, ""):
            return None
        return self.take(path, lambda v: parse_vendor_time(v, self.now, self.times), value)

    def obj(self, parent: Mapping[str, Any], key: str, path: str,
            required: bool = True) -> dict[str, Any] | None:
        value = parent.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, dict):
            self.fail(path, "is required and must be an object" if value is None
                      else f"must be an object, got {type(value).__name__}")
            return None
        return value

    def raise_any(self) -> None:
        if self.problems:
            raise ApiError(400, self.problems)


def parse_vendor_score(value: Any) -> int:
    """0-10 from an int or a string of ASCII digits ("9"); "9.5", "", "١٠", floats and booleans
    are refused."""
    if isinstance(value, str):
        value = _score_text(value)
    elif value is None:
        raise ValueError("is required: an integer from 0 to 10")
    return parse_score(value)


def _score_text(value: str) -> int:
    text = value.strip()
    if len(text) <= 3:
        try:
            return parse_ascii_int(text)
        except ValueError:
            if text.lstrip("+-").isdigit():
                raise  # digits of another script: the shared rule says so
    raise ValueError(f"must be an integer from 0 to 10, got {show_value(value)}")


def parse_vendor_time(value: Any, now: datetime | None = None,
                      times: TimeRange = DEFAULT_TIMES) -> datetime:
    """Unix seconds (number or numeric string) or ISO 8601 with an offset, as aware UTC, within
    the plausible range (NPS_TV_EARLIEST_DATE .. now + NPS_TV_FUTURE_HOURS)."""
    if isinstance(value, str) and UNIX_TEXT_RE.fullmatch(value):
        value = float(value)
    if isinstance(value, bool) or value is None:
        raise ValueError(f"must be Unix seconds or an ISO 8601 time with an offset, "
                         f"got {show_value(value)}")
    if isinstance(value, int | float):
        if not math.isfinite(value) or not 0 <= value < 1e11:
            raise ValueError(f"must be Unix seconds (milliseconds are not accepted), "
                             f"got {show_value(value)}")
        moment = datetime.fromtimestamp(value, UTC)
    elif isinstance(value, str):
        moment = parse_iso_time(value)  # with a zone; naive or garbage raises ValueError
    else:
        raise ValueError(f"must be Unix seconds or an ISO 8601 time with an offset, "
                         f"got {show_value(value)}")
    # Checked before it is moved to UTC: "0001-01-01T00:00:00+01:00" is a year before the
    # first one there (OverflowError, a 500 the vendor retried forever), the range says why.
    return times.check(moment, now).astimezone(UTC)


def parse_vendor_id(value: Any) -> str:
    """The vendor's response id as one line of text (vendors send strings or integers)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"is required: a string or integer id, got {show_value(value)}")
    text = clean_line(str(value), MAX_ID)
    if not text:
        raise ValueError("must not be empty")
    return text


def parse_comment(value: Any) -> str | None:
    """Optional text, cleaned by the shared rule; empty means no comment yet."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"must be text or null, got {show_value(value)}")
    return clean_comment(value) or None


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false", "1", "0", ""}:
        return value.strip().lower() in {"true", "1"}
    raise ValueError(f"must be true or false, got {show_value(value)}")


def _segment_value(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"must be text or a number, got {show_value(value)}")
    if not isinstance(value, str | int | float):
        raise ValueError(f"must be text or a number to become a segment, got "
                         f"{type(value).__name__}")
    return clean_segment_value(str(value)) or None


def _segments(sources: list[tuple[str, Any]], mapping: SegmentMap,
              check: _Check) -> dict[str, str]:
    """Each segment from the first source holding its property (names case-insensitive)."""
    out: dict[str, str] = {}
    tables = [(path, {str(k).lower(): k for k in props}, props)
              for path, props in sources if isinstance(props, dict)]
    for segment, prop in mapping:
        for path, lowered, props in tables:
            if prop in lowered:
                key = lowered[prop]
                value = check.take(f"{path}.{key}", _segment_value, props[key])
                if value:
                    out[segment] = value
                break
    return out


def _record(source: str, check: _Check, external_id: Any, score: Any, when: datetime | None,
            comment: Any, segments: dict[str, str], excluded: bool = False, *,
            version: datetime | None) -> list[ResponseRecord]:
    check.raise_any()
    return [ResponseRecord(source=source, external_id=external_id, score=score, created_at=when,
                           comment=comment, segments=segments, excluded=excluded,
                           source_updated_at=version)]


def _event(check: _Check, payload: Mapping[str, Any], key: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or not value.strip():
        check.fail(key, f"is required: the event type as text, got {show_value(value)}")
        check.raise_any()
    return value.strip()[:100]


def map_delighted(payload: dict[str, Any], segments: SegmentMap,
                  times: TimeRange = DEFAULT_TIMES, now: datetime | None = None) -> Mapped:
    """A Delighted survey_response.created/updated event as one record."""
    # Source: https://app.delighted.com/docs/api/webhooks (event types survey_response.created,
    # survey_response.updated, unsubscribe.created; body {"event_type", "event_id",
    # "event_data": {"id": "5435", "score": 9, "comment", "created_at": 1732186844 (Unix s),
    # "survey_type": "nps", "person": {...}, "person_properties": {...} | null,
    # "updated_at": 1732187444}}). updated_at changes "any time the score or comment ... is
    # changed" (the survey_response.updated event), so it orders the versions: newest wins.
    # Defensive, docs silent: a survey_type other than "nps" (CSAT, CES...) is ignored, not
    # stored as an NPS score; a missing survey_type is taken as NPS (older payloads).
    check = _Check(times, now)
    event = _event(check, payload, "event_type")
    if event not in {"survey_response.created", "survey_response.updated"}:
        return Ignored(event)
    data = check.obj(payload, "event_data", "event_data")
    check.raise_any()
    survey_type = data.get("survey_type")
    if survey_type is not None and str(survey_type).lower() != "nps":
        return Ignored(f"{event} (survey_type {str(survey_type)[:40]})")
    return _record(
        "delighted", check,
        check.take("event_data.id", parse_vendor_id, data.get("id")),
        check.take("event_data.score", parse_vendor_score, data.get("score")),
        check.time("event_data.created_at", data.get("created_at")),
        check.take("event_data.comment", parse_comment, data.get("comment")),
        _segments([("event_data.person_properties", data.get("person_properties")),
                   ("event_data.properties", data.get("properties"))], segments, check),
        version=check.time("event_data.updated_at", data.get("updated_at"), required=False))


def map_wootric(payload: dict[str, Any], segments: SegmentMap,
                times: TimeRange = DEFAULT_TIMES, now: datetime | None = None) -> Mapped:
    """A Wootric (InMoment) response created/updated event as one record."""
    # Source: https://docs.wootric.com/webhooks/ and its source, github.com/Wootric/slate
    # source/includes/_webhooks.md: events "response" created/updated and "decline" created;
    # body {"response": {"id": 1128, "score": 7, "text": null, "end_user_properties": {...},
    # "created_at": "2016-08-04T13:57:26.558-07:00", "excluded_from_calculations": false},
    # "event_name": "created", "survey_mode": "NPS", ...}, JSON or form-encoded as
    # response[id]=1128&response[created_at]=2016-08-04 13:57:26 -0700&event_name=created.
    # response.updated_at is the version time ("Response updated: an end user changed the
    # score or added feedback"), so newest wins; the top-level timestamp is the delivery's
    # (checked against replays in signatures.py).
    # Defensive, docs silent: survey_mode other than NPS (CES, CSAT) is ignored; the API's
    # response.end_user.properties is read when end_user_properties is absent.
    check = _Check(times, now)
    event = _event(check, payload, "event_name")
    if "decline" in payload and "response" not in payload:
        return Ignored(f"decline.{event}")
    response = check.obj(payload, "response", "response")
    check.raise_any()
    if event not in {"created", "updated"}:
        return Ignored(f"response.{event}")
    mode = payload.get("survey_mode")
    if mode is not None and str(mode).upper() != "NPS":
        return Ignored(f"response.{event} (survey_mode {str(mode)[:40]})")
    end_user = response.get("end_user")
    return _record(
        "wootric", check,
        check.take("response.id", parse_vendor_id, response.get("id")),
        check.take("response.score", parse_vendor_score, response.get("score")),
        check.time("response.created_at", response.get("created_at")),
        check.take("response.text", parse_comment, response.get("text")),
        _segments([("response.end_user_properties", response.get("end_user_properties")),
                   ("response.end_user.properties",
                    end_user.get("properties") if isinstance(end_user, dict) else None)],
                  segments, check),
        bool(check.take("response.excluded_from_calculations", _flag,
                        response.get("excluded_from_calculations", False))),
        version=check.time("response.updated_at", response.get("updated_at"), required=False))


def map_typeform(payload: dict[str, Any], segments: SegmentMap,
                 times: TimeRange = DEFAULT_TIMES, now: datetime | None = None) -> Mapped:
    """A Typeform form_response as one record: its NPS answer, long-text comment, hidden fields."""
    # Sources: https://www.typeform.com/developers/webhooks/example-payload/ (event_type
    # "form_response"; form_response.token, submitted_at "2018-01-18T18:17:02Z", hidden {...},
    # variables [{key, type, text|number}], answers [{"type": "number", "number": 9,
    # "field": {"id", "type", "ref"}}]); field types incl. "nps" and "long_text".
    # A submitted response is never edited, so submitted_at is its only version time: a
    # redelivery of the same token carries the same one and applies as before.
    # Defensive, docs silent: only an answer to an "nps" field is a score (an opinion_scale
    # may be 1-5; calculated.score is a quiz score); the comment is the first long_text answer
    # (a short_text is often a name, which must not reach a wall); form_response_partial and
    # other event types are ignored, as a partial response's token is not documented to match
    # the final one; a response without an nps answer (question skipped) is ignored.
    check = _Check(times, now)
    event = _event(check, payload, "event_type")
    if event != "form_response":
        return Ignored(event)
    form = check.obj(payload, "form_response", "form_response")
    check.raise_any()
    answers = form.get("answers", [])
    if not isinstance(answers, list):
        check.fail("form_response.answers", "must be a list of answers")
        check.raise_any()
    score_at = comment_at = None
    for index, answer in enumerate(answers):
        field = answer.get("field") if isinstance(answer, dict) else None
        kind = field.get("type") if isinstance(field, dict) else None
        if kind is None:
            check.fail(f"form_response.answers[{index}].field.type", "is required")
        elif kind == "nps" and score_at is None:
            score_at = index
        elif kind == "long_text" and comment_at is None:
            comment_at = index
    check.raise_any()
    if score_at is None:
        return Ignored("form_response (no nps answer)")
    variables = form.get("variables") or []
    if not isinstance(variables, list):
        check.fail("form_response.variables", "must be a list")
        variables = []
    values = {v["key"]: v.get(v["type"]) for v in variables if isinstance(v, dict)
              and isinstance(v.get("key"), str) and isinstance(v.get("type"), str)}
    comment = answers[comment_at].get("text") if comment_at is not None else None
    submitted = check.time("form_response.submitted_at", form.get("submitted_at"))
    return _record(
        "typeform", check,
        check.take("form_response.token", parse_vendor_id, form.get("token")),
        check.take(f"form_response.answers[{score_at}].number", parse_vendor_score,
                   answers[score_at].get("number")),
        submitted,
        check.take(f"form_response.answers[{comment_at}].text", parse_comment, comment),
        _segments([("form_response.hidden", form.get("hidden")),
                   ("form_response.variables", values)], segments, check),
        version=submitted)


def map_asknicely(payload: dict[str, Any], segments: SegmentMap,
                  times: TimeRange = DEFAULT_TIMES, now: datetime | None = None) -> Mapped:
    """An AskNicely response webhook (sent on a score, again on each change) as one record."""
    # Source: https://asknicely.zendesk.com/hc/en-us/articles/47782734299540 ("Triggering
    # Webhooks in AskNicely"): JSON {"count": 1, "person": {"id": "163012", ..., custom fields},
    # "question": {"id": "345094", "score": "10", "comment", "responded": "1774990125" (Unix s
    # as text), "segment", custom data fields}}; no event type (count increments on updates),
    # no signature. Defensive, docs silent: custom fields are looked up in question, then person.
    # The payload has no update time, but "count ... increments by 1 with each webhook fired
    # for a given response": (responded, count) orders its versions, newest wins.
    check = _Check(times, now)
    question = check.obj(payload, "question", "question")
    person = check.obj(payload, "person", "person", required=False)
    check.raise_any()
    responded = check.time("question.responded", question.get("responded"))
    return _record(
        "asknicely", check,
        check.take("question.id", parse_vendor_id, question.get("id")),
        check.take("question.score", parse_vendor_score, question.get("score")),
        responded,
        check.take("question.comment", parse_comment, question.get("comment")),
        _segments([("question", question), ("person", person)], segments, check),
        version=_asknicely_version(check, payload.get("count"), responded))


def _asknicely_version(check: _Check, count: Any, responded: datetime | None
                       ) -> datetime | None:
    """``responded`` plus ``count`` microseconds: the time orders versions, the count breaks
    ties within its second (AskNicely's times are whole seconds). None without a count."""
    if count is None:
        return None
    number = check.take("count", _parse_count, count)
    if number is None or responded is None:
        return None
    return responded + timedelta(microseconds=number)


def _parse_count(value: Any) -> int:
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_COUNT:
        raise ValueError(f"must be a whole number from 1 to {MAX_COUNT}, got {show_value(value)}")
    return value
