"""Survey-tool webhook payloads mapped onto store records, and each vendor's signature check.

Pure functions: a decoded payload in, a list of records (or an ``Ignored`` marker) out. Every
refusal is an ApiError naming the field and the reason; nothing here touches the store.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from app.ingest.http import ApiError, show_value
from app.ingest.schema import (
    CONTROL_RE,
    MAX_COMMENT,
    MAX_SEGMENT_VALUE,
    SEGMENT_KEY_RE,
    parse_score,
    parse_time,
)
from app.store import ResponseRecord

SegmentMap = tuple[tuple[str, str], ...]  # (our segment, vendor property lower-cased)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
SCORE_TEXT_RE = re.compile(r"\s*\d{1,2}\s*")
UNIX_TEXT_RE = re.compile(r"\s*\d{1,15}(\.\d+)?\s*")


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

    def __init__(self) -> None:
        self.problems: list[dict[str, str]] = []

    def fail(self, path: str, message: str) -> None:
        self.problems.append({"path": path, "message": message})

    def take(self, path: str, parse: Callable[[Any], Any], value: Any) -> Any:
        try:
            return parse(value)
        except ValueError as exc:
            self.fail(path, str(exc))
            return None

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
    """0-10 from an int or an integer string ("9"); "9.5", "", floats and booleans are refused."""
    if isinstance(value, str) and SCORE_TEXT_RE.fullmatch(value):
        value = int(value)
    elif value is None:
        raise ValueError("is required: an integer from 0 to 10")
    return parse_score(value)


def parse_vendor_time(value: Any, now: datetime | None = None) -> datetime:
    """Unix seconds (number or numeric string) or ISO 8601 with an offset, as aware UTC."""
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
    else:
        moment = parse_time(value)  # ISO with a zone; naive or garbage raises ValueError
    now = now or datetime.now(UTC)
    if not EARLIEST <= moment <= now + timedelta(days=1):
        raise ValueError(f"is {moment.isoformat()}, outside 2000-01-01 .. tomorrow")
    return moment


def parse_vendor_id(value: Any) -> str:
    """The vendor's response id as text (vendors send strings or integers)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"is required: a string or integer id, got {show_value(value)}")
    text = str(value).strip()
    if not 1 <= len(text) <= 255 or CONTROL_RE.search(text):
        raise ValueError("must be 1 to 255 printable characters")
    return text


def parse_comment(value: Any) -> str | None:
    """Optional text; empty means no comment yet."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"must be text or null, got {show_value(value)}")
    if len(value) > MAX_COMMENT:
        raise ValueError(f"is {len(value)} characters; the limit is {MAX_COMMENT}")
    return value if value.strip() else None


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
    text = CONTROL_RE.sub(" ", str(value)).strip()
    return text[:MAX_SEGMENT_VALUE] or None


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
            comment: Any, segments: dict[str, str], excluded: bool = False) -> list[ResponseRecord]:
    check.raise_any()
    return [ResponseRecord(source=source, external_id=external_id, score=score, created_at=when,
                           comment=comment, segments=segments, excluded=excluded)]


def _event(check: _Check, payload: Mapping[str, Any], key: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or not value.strip():
        check.fail(key, f"is required: the event type as text, got {show_value(value)}")
        check.raise_any()
    return value.strip()[:100]


def map_delighted(payload: dict[str, Any], segments: SegmentMap,
                  now: datetime | None = None) -> Mapped:
    """A Delighted survey_response.created/updated event as one record."""
    # Source: https://app.delighted.com/docs/api/webhooks (event types survey_response.created,
    # survey_response.updated, unsubscribe.created; body {"event_type", "event_id",
    # "event_data": {"id": "5435", "score": 9, "comment", "created_at": 1732186844 (Unix s),
    # "survey_type": "nps", "person": {...}, "person_properties": {...} | null}}).
    # Defensive, docs silent: a survey_type other than "nps" (CSAT, CES...) is ignored, not
    # stored as an NPS score; a missing survey_type is taken as NPS (older payloads).
    check = _Check()
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
        check.take("event_data.created_at", lambda v: parse_vendor_time(v, now),
                   data.get("created_at")),
        check.take("event_data.comment", parse_comment, data.get("comment")),
        _segments([("event_data.person_properties", data.get("person_properties")),
                   ("event_data.properties", data.get("properties"))], segments, check))


def map_wootric(payload: dict[str, Any], segments: SegmentMap,
                now: datetime | None = None) -> Mapped:
    """A Wootric (InMoment) response created/updated event as one record."""
    # Source: https://docs.wootric.com/webhooks/ and its source, github.com/Wootric/slate
    # source/includes/_webhooks.md: events "response" created/updated and "decline" created;
    # body {"response": {"id": 1128, "score": 7, "text": null, "end_user_properties": {...},
    # "created_at": "2016-08-04T13:57:26.558-07:00", "excluded_from_calculations": false},
    # "event_name": "created", "survey_mode": "NPS", ...}, JSON or form-encoded as
    # response[id]=1128&response[created_at]=2016-08-04 13:57:26 -0700&event_name=created.
    # Defensive, docs silent: survey_mode other than NPS (CES, CSAT) is ignored; the API's
    # response.end_user.properties is read when end_user_properties is absent.
    check = _Check()
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
        check.take("response.created_at", lambda v: parse_vendor_time(v, now),
                   response.get("created_at")),
        check.take("response.text", parse_comment, response.get("text")),
        _segments([("response.end_user_properties", response.get("end_user_properties")),
                   ("response.end_user.properties",
                    end_user.get("properties") if isinstance(end_user, dict) else None)],
                  segments, check),
        bool(check.take("response.excluded_from_calculations", _flag,
                        response.get("excluded_from_calculations", False))))


def map_typeform(payload: dict[str, Any], segments: SegmentMap,
                 now: datetime | None = None) -> Mapped:
    """A Typeform form_response as one record: its NPS answer, long-text comment, hidden fields."""
    # Sources: https://www.typeform.com/developers/webhooks/example-payload/ (event_type
    # "form_response"; form_response.token, submitted_at "2018-01-18T18:17:02Z", hidden {...},
    # variables [{key, type, text|number}], answers [{"type": "number", "number": 9,
    # "field": {"id", "type", "ref"}}]); field types incl. "nps" and "long_text".
    # Defensive, docs silent: only an answer to an "nps" field is a score (an opinion_scale
    # may be 1-5; calculated.score is a quiz score); the comment is the first long_text answer
    # (a short_text is often a name, which must not reach a wall); form_response_partial and
    # other event types are ignored, as a partial response's token is not documented to match
    # the final one; a response without an nps answer (question skipped) is ignored.
    check = _Check()
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
    return _record(
        "typeform", check,
        check.take("form_response.token", parse_vendor_id, form.get("token")),
        check.take(f"form_response.answers[{score_at}].number", parse_vendor_score,
                   answers[score_at].get("number")),
        check.take("form_response.submitted_at", lambda v: parse_vendor_time(v, now),
                   form.get("submitted_at")),
        check.take(f"form_response.answers[{comment_at}].text", parse_comment, comment),
        _segments([("form_response.hidden", form.get("hidden")),
                   ("form_response.variables", values)], segments, check))


def map_asknicely(payload: dict[str, Any], segments: SegmentMap,
                  now: datetime | None = None) -> Mapped:
    """An AskNicely response webhook (sent on a score, again on each change) as one record."""
    # Source: https://asknicely.zendesk.com/hc/en-us/articles/47782734299540 ("Triggering
    # Webhooks in AskNicely"): JSON {"count": 1, "person": {"id": "163012", ..., custom fields},
    # "question": {"id": "345094", "score": "10", "comment", "responded": "1774990125" (Unix s
    # as text), "segment", custom data fields}}; no event type (count increments on updates),
    # no signature. Defensive, docs silent: custom fields are looked up in question, then person.
    check = _Check()
    question = check.obj(payload, "question", "question")
    person = check.obj(payload, "person", "person", required=False)
    check.raise_any()
    return _record(
        "asknicely", check,
        check.take("question.id", parse_vendor_id, question.get("id")),
        check.take("question.score", parse_vendor_score, question.get("score")),
        check.take("question.responded", lambda v: parse_vendor_time(v, now),
                   question.get("responded")),
        check.take("question.comment", parse_comment, question.get("comment")),
        _segments([("question", question), ("person", person)], segments, check))


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name.lower()), None)
    return value


def _verify(headers: Mapping[str, str], name: str, prefix: str, expected: str,
            setting: str, fold_case: bool) -> None:
    given = (_header(headers, name) or "").strip()
    if not given:
        raise ApiError.single(401, name, f"is missing; {setting} is set, so every delivery "
                                         "must be signed", error="unauthorized")
    if given.lower().startswith(prefix):
        given = given[len(prefix):]
    if fold_case:
        given = given.lower()
    if not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
        raise ApiError.single(401, name, f"does not match the body signed with {setting}",
                              error="unauthorized")


def verify_delighted(body: bytes, headers: Mapping[str, str], secret: str) -> None:
    """X-Delighted-Webhook-Signature: sha256=<hex HMAC-SHA256 of the raw body>."""
    # Delighted signs with the account's API key; the header form is "sha256=<hex>" as parsed
    # by a real client (kiteco/kiteco, delighted verifyWebhook). The prefix is optional here.
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    _verify(headers, "X-Delighted-Webhook-Signature", "sha256=", digest,
            "NPS_TV_DELIGHTED_SECRET", fold_case=True)


def verify_wootric(body: bytes, headers: Mapping[str, str], secret: str) -> None:
    """X-Wootric-Signature: sha1=<hex HMAC-SHA1 of the raw body> (Wootric docs, Security)."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha1).hexdigest()
    _verify(headers, "X-Wootric-Signature", "sha1=", digest, "NPS_TV_WOOTRIC_SECRET",
            fold_case=True)


def verify_typeform(body: bytes, headers: Mapping[str, str], secret: str) -> None:
    """Typeform-Signature: sha256=<base64 HMAC-SHA256 of the raw body>."""
    # https://www.typeform.com/developers/webhooks/secure-your-webhooks/
    digest = base64.b64encode(hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest())
    _verify(headers, "Typeform-Signature", "sha256=", digest.decode("ascii"),
            "NPS_TV_TYPEFORM_SECRET", fold_case=False)
