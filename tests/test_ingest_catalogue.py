"""A catalogue of malformed input: each is refused naming the field and reason, and the store is
exactly as before (REST on SQLite and PostgreSQL; `nps-tv import` too)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from flask.testing import FlaskClient

from app.cli import main
from app.store import Store
from tests.conftest import ADMIN_TOKEN, INGEST_TOKEN, make_record

RESPONSES = "/api/v1/responses"
EVENTS = "/api/v1/events"
JSON = "application/json"
MAX_BODY = 2_000_000  # the default max_body_bytes


def as_json(value: Any) -> bytes:
    return json.dumps(value).encode()


def good(i: int, **fields: Any) -> dict[str, Any]:
    """A valid response that would be stored if its request were accepted."""
    return {"score": 9, "external_id": f"new-{i}", "comment": "fine", **fields}


def with_good(**fields: Any) -> bytes:
    return as_json(good(0) | fields)


class Case(NamedTuple):
    """A malformed request: what is sent, and the status and problem it must get back."""

    body: bytes
    status: int
    path: str
    reason: str
    content_type: str | None = JSON


RESPONSE_CASES = [
    # -- scores: wrong types, out of range, booleans, fractions, strings, NaN and Infinity
    pytest.param(Case(with_good(score="9"), 400, "score", "got '9'"), id="score-string"),
    pytest.param(Case(with_good(score=9.5), 400, "score", "got 9.5"), id="score-9.5"),
    pytest.param(Case(with_good(score=11), 400, "score", "from 0 to 10, got 11"),
                 id="score-11"),
    pytest.param(Case(with_good(score=-1), 400, "score", "from 0 to 10, got -1"),
                 id="score-negative"),
    pytest.param(Case(with_good(score=10**30), 400, "score", "from 0 to 10"), id="score-huge"),
    pytest.param(Case(with_good(score=True), 400, "score", "got True"), id="score-true"),
    pytest.param(Case(with_good(score=False), 400, "score", "got False"), id="score-false"),
    pytest.param(Case(with_good(score=None), 400, "score", "got None"), id="score-null"),
    pytest.param(Case(with_good(score=[9]), 400, "score", "got [9]"), id="score-list"),
    pytest.param(Case(b'{"score": NaN, "external_id": "n"}', 400, "body", "contains NaN"),
                 id="score-nan"),
    pytest.param(Case(b'{"score": Infinity}', 400, "body", "contains Infinity"),
                 id="score-infinity"),
    pytest.param(Case(b'{"score": -Infinity}', 400, "body", "contains -Infinity"),
                 id="score-minus-infinity"),
    pytest.param(Case(b'{"score": 1e999}', 400, "score", "got inf"), id="score-overflow"),
    # More digits than Python reads (4,300): named by its path and called out of range.
    pytest.param(Case(b'{"score": 1' + b"0" * 5000 + b"}", 400, "score",
                      "is a number of 5,001 digits, out of range"), id="score-5000-digits"),
    pytest.param(Case(b'[{"score": 9}, {"score": -' + b"9" * 5000 + b"}]", 400, "[1].score",
                      "is a number of 5,000 digits, out of range"),
                 id="score-5000-digits-in-a-batch"),
    # -- missing, unknown and duplicated fields
    pytest.param(Case(as_json({"comment": "no score"}), 400, "score", "is required"),
                 id="missing-score"),
    pytest.param(Case(b"{}", 400, "score", "is required"), id="empty-object"),
    pytest.param(Case(with_good(rating=9), 400, "rating", "is not a known field"),
                 id="unknown-field"),
    pytest.param(Case(b'{"score": 9, "comment": "a", "score": 10}', 400, "score",
                      "appears twice"), id="duplicate-key"),
    # In a batch the item is named, as for every other refusal (README: [3].created_at).
    pytest.param(Case(b'[{"score": 1}, {"score": 2}, {"score": 3}, {"score": 4, "score": 5}]',
                      400, "[3].score", "appears twice in the same object"),
                 id="duplicate-key-in-a-batch"),
    pytest.param(Case(b'[{"score": 1, "segments": {"plan": "a", "plan": "b"}}]', 400,
                      "[0].segments.plan", "appears twice"), id="duplicate-segment-in-a-batch"),
    # -- other fields of the wrong type or size
    pytest.param(Case(with_good(comment=7), 400, "comment", "must be a string or null"),
                 id="comment-number"),
    pytest.param(Case(with_good(comment="x" * 10_001), 400, "comment",
                      "is 10001 characters; the limit is 10000"), id="huge-comment"),
    pytest.param(Case(with_good(comment="a\u0000b"), 400, "comment", "NUL"), id="comment-nul"),
    pytest.param(Case(b'{"score": 9, "comment": "\\ud800"}', 400, "comment",
                      "unpaired UTF-16 surrogate"), id="comment-lone-surrogate"),
    pytest.param(Case(with_good(external_id=True), 400, "external_id", "string or an integer"),
                 id="external-id-bool"),
    pytest.param(Case(with_good(external_id=""), 400, "external_id", "must not be empty"),
                 id="external-id-empty"),
    pytest.param(Case(with_good(external_id="x" * 256), 400, "external_id",
                      "is 256 characters; the limit is 255"), id="external-id-too-long"),
    pytest.param(Case(with_good(external_id="a\x01b"), 400, "external_id",
                      "must be one line without control characters"),
                 id="external-id-control-char"),
    pytest.param(Case(with_good(external_id="a\nb"), 400, "external_id",
                      "must be one line"), id="external-id-line-break"),
    pytest.param(Case(with_good(external_id="abc\u202edcba"), 400, "external_id",
                      "text-direction override"), id="external-id-bidi-override"),
    pytest.param(Case(with_good(source="my survey"), 400, "source", "letters, digits"),
                 id="source-with-space"),
    # "$" matched before a final line break: "api\n" was stored as a source of its own, so
    # the same external_id could be stored twice
    pytest.param(Case(with_good(source="api\n"), 400, "source", "letters, digits"),
                 id="source-trailing-newline"),
    pytest.param(Case(with_good(excluded="yes"), 400, "excluded", "must be true or false"),
                 id="excluded-string"),
    pytest.param(Case(with_good(segments=["plan"]), 400, "segments", "must be an object"),
                 id="segments-list"),
    pytest.param(Case(with_good(segments={f"s{i}": "x" for i in range(21)}), 400, "segments",
                      "has 21 properties; the limit is 20"), id="too-many-segments"),
    pytest.param(Case(with_good(segments={"my plan": "x"}), 400, "segments", "property name"),
                 id="segment-bad-name"),
    pytest.param(Case(with_good(segments={"plan": "x" * 201}), 400, "segments.plan",
                      "is 201 characters; the limit is 200"), id="segment-too-long"),
    pytest.param(Case(with_good(segments={"plan": "\x1b[2J\x1b[31m" + "x" * 5_000}), 400,
                      "segments.plan", "must be one line without control characters"),
                 id="segment-5000-chars-terminal-escapes"),
    pytest.param(Case(with_good(segments={"plan": "team\nadmin"}), 400, "segments.plan",
                      "must be one line"), id="segment-line-break"),
    pytest.param(Case(with_good(segments={"plan": "team\u2028admin"}), 400, "segments.plan",
                      "must be one line"), id="segment-unicode-line-separator"),
    pytest.param(Case(with_good(segments={"plan": "\u202eeert"}), 400, "segments.plan",
                      "text-direction override"), id="segment-bidi-override"),
    pytest.param(Case(with_good(segments={"plan": "te\x85am"}), 400, "segments.plan",
                      "control characters"), id="segment-c1-control"),
    pytest.param(Case(with_good(segments={"plan": {"tier": ["a", {"b": None}]}}), 400,
                      "segments.plan", "must be a string"), id="segment-nested-garbage"),
    pytest.param(Case(with_good(score={"value": 9}), 400, "score", "must be an integer"),
                 id="score-nested-object"),
    # -- timestamps
    pytest.param(Case(with_good(created_at="2026-11-20T09:30:00"), 400, "created_at",
                      "must include a time zone"), id="naive-timestamp"),
    pytest.param(Case(with_good(created_at="yesterday"), 400, "created_at",
                      "must be an ISO 8601 time"), id="unparseable-timestamp"),
    pytest.param(Case(with_good(created_at="2026-02-30T10:00:00Z"), 400, "created_at",
                      "ISO 8601"), id="impossible-date"),
    pytest.param(Case(with_good(created_at=1_700_000_000), 400, "created_at",
                      "ISO 8601 time string"), id="epoch-number-timestamp"),
    # -- times outside the plausible range (2000-01-01 to now + 24 h by default)
    pytest.param(Case(with_good(created_at="0001-01-01T00:00:00Z"), 400, "created_at",
                      "must lie between 2000-01-01 and now + 24 h, got 0001-01-01T00:00:00Z"),
                 id="year-0001"),
    pytest.param(Case(with_good(created_at="9999-12-31T23:59:59Z"), 400, "created_at",
                      "must lie between 2000-01-01 and now + 24 h, got 9999-12-31T23:59:59Z"),
                 id="year-9999"),
    pytest.param(Case(with_good(created_at="1999-12-31T23:59:59Z"), 400, "created_at",
                      "must lie between 2000-01-01"), id="just-before-2000"),
    pytest.param(Case(with_good(created_at=(datetime.now(UTC) + timedelta(days=2)).isoformat()),
                      400, "created_at", "now + 24 h"), id="two-days-ahead"),
    pytest.param(Case(as_json([good(0), good(1, created_at="0001-01-01T00:00:00+00:00")]), 400,
                      "[1].created_at", "must lie between"), id="list-one-null-date"),
    # -- comments: too long after cleaning (control and override characters are stripped)
    pytest.param(Case(with_good(comment="\x1b[31m" + "x" * 130_000), 400, "comment",
                      "is 130004 characters; the limit is 10000"), id="comment-130000"),
    # -- the body itself
    pytest.param(Case(b"", 400, "body", "is empty"), id="empty-body"),
    pytest.param(Case(b"  \n\t ", 400, "body", "is empty"), id="blank-body"),
    pytest.param(Case(b'{"score": 9, "comment": "caf\xe9"}', 400, "body", "not valid UTF-8"),
                 id="invalid-utf8"),
    pytest.param(Case(b'{"score": 9', 400, "body", "is not valid JSON"), id="truncated-json"),
    pytest.param(Case(b'{"score": 9} {"score": 8}', 400, "body", "Extra data"),
                 id="two-documents"),
    pytest.param(Case(b"{'score': 9}", 400, "body", "is not valid JSON"), id="single-quotes"),
    pytest.param(Case(with_good(comment="x" * MAX_BODY), 413, "body",
                      f"the limit is {MAX_BODY}"), id="huge-body"),
    pytest.param(Case(b"[" * 100_000 + b"]" * 100_000, 400, "body", "nested too deeply"),
                 id="deep-nesting"),
    pytest.param(Case(with_good(), 415, "Content-Type", "must be application/json",
                      "text/plain"), id="content-type-text"),
    pytest.param(Case(b"score=9", 415, "Content-Type", "must be application/json",
                      "application/x-www-form-urlencoded"), id="content-type-form"),
    pytest.param(Case(with_good(), 415, "Content-Type", "got 'none'", None),
                 id="content-type-missing"),
    # -- lists and top-level shapes
    pytest.param(Case(as_json([good(0), good(1), good(2, score=11), good(3)]), 400,
                      "[2].score", "from 0 to 10"), id="list-one-bad-item"),
    pytest.param(Case(as_json([good(0), good(1, created_at="2026-11-20 09:30")]), 400,
                      "[1].created_at", "time zone"), id="list-one-naive-time"),
    pytest.param(Case(as_json([good(0), good(1), good(0)]), 400, "body",
                      "the same source and external_id appear twice"),
                 id="list-duplicate-external-ids"),
    pytest.param(Case(as_json([good(i) for i in range(1001)]), 413, "body",
                      "has 1001 responses; the limit is 1000"), id="list-of-1001"),
    pytest.param(Case(b"[]", 400, "body", "is an empty list"), id="empty-list"),
    pytest.param(Case(as_json([good(0), 5]), 400, "[1]", "must be an object"),
                 id="list-with-scalar"),
    pytest.param(Case(as_json([[good(0)]]), 400, "[0]", "must be an object"),
                 id="list-of-lists"),
    pytest.param(Case(b"9", 400, "body", "must be a response object or a list"),
                 id="top-level-number"),
    pytest.param(Case(b'"9"', 400, "body", "must be a response object or a list"),
                 id="top-level-string"),
    pytest.param(Case(b"null", 400, "body", "must be a response object or a list"),
                 id="top-level-null"),
    pytest.param(Case(b"true", 400, "body", "must be a response object or a list"),
                 id="top-level-true"),
]

EVENT_CASES = [
    pytest.param(Case(b'{"kind": "release"}', 400, "label", "is required"),
                 id="event-missing-label"),
    pytest.param(Case(as_json({"label": "   "}), 400, "label", "must not be empty"),
                 id="event-blank-label"),
    pytest.param(Case(as_json({"label": "x" * 201}), 400, "label",
                      "is 201 characters; the limit is 200"), id="event-label-too-long"),
    pytest.param(Case(as_json({"label": "v2\nreleased"}), 400, "label",
                      "must be one line without control characters"),
                 id="event-label-line-break"),
    pytest.param(Case(as_json({"label": "\x1b]8;;http://x\x07click"}), 400, "label",
                      "control characters"), id="event-label-terminal-escape"),
    pytest.param(Case(as_json({"label": "\u202edesaeler"}), 400, "label",
                      "text-direction override"), id="event-label-bidi-override"),
    pytest.param(Case(as_json({"label": "x", "occurred_at": "0001-01-01T00:00:00Z"}), 400,
                      "occurred_at", "must lie between 2000-01-01 and now + 24 h"),
                 id="event-year-0001"),
    pytest.param(Case(as_json({"label": "x", "occurred_at": "9999-12-31T00:00:00Z"}), 400,
                      "occurred_at", "must lie between 2000-01-01 and now + 24 h"),
                 id="event-year-9999"),
    pytest.param(Case(as_json({"label": 42}), 400, "label", "must be text"),
                 id="event-label-number"),
    pytest.param(Case(as_json({"label": "a\u0000b"}), 400, "label", "NUL"),
                 id="event-label-nul"),
    pytest.param(Case(as_json({"label": "x", "kind": "big release!"}), 400, "kind",
                      "letters, digits"), id="event-bad-kind"),
    pytest.param(Case(as_json({"label": "x", "kind": "release\n"}), 400, "kind",
                      "letters, digits"), id="event-kind-trailing-newline"),
    pytest.param(Case(as_json({"label": "x", "occurred_at": "2026-11-20T10:00"}), 400,
                      "occurred_at", "must include a time zone"), id="event-naive-time"),
    pytest.param(Case(as_json({"label": "x", "occurred_at": "last tuesday"}), 400,
                      "occurred_at", "ISO 8601"), id="event-unparseable-time"),
    pytest.param(Case(as_json({"label": "x", "note": "n" * 2001}), 400, "note",
                      "is 2001 characters; the limit is 2000"), id="event-note-too-long"),
    pytest.param(Case(as_json({"label": "x", "note": ["a"]}), 400, "note", "must be text"),
                 id="event-note-list"),
    pytest.param(Case(as_json({"label": "x", "colour": "red"}), 400, "colour",
                      "is not a known field"), id="event-unknown-field"),
    pytest.param(Case(b'{"label": "a", "label": "b"}', 400, "label", "appears twice"),
                 id="event-duplicate-key"),
    pytest.param(Case(as_json([{"label": "x"}]), 400, "body", "must be an event object"),
                 id="event-list"),
    pytest.param(Case(b"7", 400, "body", "must be an event object"), id="event-scalar"),
    pytest.param(Case(b"", 400, "body", "is empty"), id="event-empty-body"),
    pytest.param(Case(b'{"label": "x"', 400, "body", "is not valid JSON"),
                 id="event-truncated-json"),
    pytest.param(Case(as_json({"label": "x"}), 415, "Content-Type", "must be application/json",
                      "text/plain"), id="event-content-type"),
    pytest.param(Case(as_json({"label": "x", "note": "n" * MAX_BODY}), 413, "body",
                      "the limit is"), id="event-huge-body"),
]


@pytest.fixture
def seeded(store: Store) -> Store:
    """The store under test with three responses and an event, so "as before" means something."""
    when = datetime(2026, 11, 1, 9, tzinfo=UTC)
    store.upsert_responses([
        make_record(1, 10, when=when, comment="Love the new dashboard", plan="team"),
        make_record(2, 6, when=when + timedelta(hours=1), comment="Too expensive", plan="pro"),
        make_record(3, 8, when=when + timedelta(hours=2), source="typeform"),
    ])
    store.add_event(when, "v2.3 released", "release", "seed")
    return store


@pytest.fixture
def seeded_client(seeded: Store, store_client: FlaskClient) -> FlaskClient:
    """A test client of an app on the seeded store's database, with both tokens set."""
    return store_client


def snapshot(store: Store) -> tuple[list[dict[str, Any]], int, list[Any]]:
    """Everything a refused request must leave exactly as it was."""
    return store.list_responses(limit=500), store.count_responses(), store.list_events()


def assert_refused(response, case: Case) -> None:
    """The status, and a problem naming the expected path with the expected reason."""
    assert response.status_code == case.status, response.get_data(as_text=True)[:300]
    body = response.get_json()
    problems = body["problems"]
    assert problems and all(p["path"] and p["message"] for p in problems)
    assert any(p["path"] == case.path and case.reason in p["message"] for p in problems), problems
    assert f"{case.path}: " in body["detail"]


def send(client, url: str, case: Case, token: str):
    headers = {"Authorization": f"Bearer {token}"}
    if case.content_type is None:
        return client.post(url, data=case.body, headers=headers)
    return client.post(url, data=case.body, content_type=case.content_type, headers=headers)


@pytest.mark.parametrize("case", RESPONSE_CASES)
def test_malformed_response_post_is_refused_and_changes_nothing(seeded_client, seeded, case: Case):
    before = snapshot(seeded)
    assert_refused(send(seeded_client, RESPONSES, case, INGEST_TOKEN), case)
    assert snapshot(seeded) == before


@pytest.mark.parametrize("case", EVENT_CASES)
def test_malformed_event_post_is_refused_and_changes_nothing(seeded_client, seeded, case: Case):
    before = snapshot(seeded)
    assert_refused(send(seeded_client, EVENTS, case, ADMIN_TOKEN), case)
    assert snapshot(seeded) == before


def test_catalogue_covers_at_least_thirty_rest_cases():
    assert len(RESPONSE_CASES) + len(EVENT_CASES) >= 30


# -- nps-tv import ------------------------------------------------------------------------------

GOOD_ROWS = "a1,9,2026-11-01T10:00:00Z,great\na2,7,2026-11-01T11:00:00Z,ok\n"


class ImportCase(NamedTuple):
    """A file and options that `nps-tv import` must refuse, and what it must say."""

    csv: str | bytes
    args: tuple[str, ...]
    exit_code: int
    stream: str  # "out" for the summary, "err" for a failure before reading rows
    says: tuple[str, ...]  # line, column and reason


def rows(*lines: str, good_first: bool = True) -> str:
    """A file with the header, the good rows (optional) and ``lines``."""
    return "id,score,time,comment\n" + (GOOD_ROWS if good_first else "") + "".join(
        f"{line}\n" for line in lines)


ABORT = ("--max-errors", "0")
IMPORT_CASES = [
    # A file whose only data row is bad: reported, nothing to write (exit 1).
    pytest.param(ImportCase(rows("b1,abc,2026-11-01T10:00:00Z,x", good_first=False), (), 1,
                            "out", ("line 2, column score", "score 'abc' is not a number")),
                 id="bad-score-line"),
    pytest.param(ImportCase(rows("b1,9.5,2026-11-01T10:00:00Z,x", good_first=False), (), 1,
                            "out", ("line 2, column score", "'9.5' is not a whole number")),
                 id="fractional-score"),
    pytest.param(ImportCase(rows("b1,11,2026-11-01T10:00:00Z,x", good_first=False), (), 1,
                            "out", ("line 2, column score", "score 11 is outside the 0-10")),
                 id="score-out-of-range"),
    pytest.param(ImportCase(rows("b1,9,yesterday,x", good_first=False), (), 1, "out",
                            ("line 2, column time", "time 'yesterday' is not ISO 8601")),
                 id="bad-time"),
    # Good rows first, then a bad one with --max-errors 0: aborted, the good rows not written.
    pytest.param(ImportCase(rows("b1,nine,2026-11-01T10:00:00Z,x"), ABORT, 2, "out",
                            ("import aborted", "nothing imported", "line 4, column score",
                             "score 'nine' is not a number")), id="bad-score-after-good-rows"),
    pytest.param(ImportCase(rows("b1,9,2026-13-01T10:00:00Z,x"), ABORT, 2, "out",
                            ("nothing imported", "line 4, column time",
                             "is not a valid date: month must be in 1..12")),
                 id="bad-time-after-good-rows"),
    pytest.param(ImportCase(rows("b1,9,yesterday,x"), ABORT, 2, "out",
                            ("nothing imported", "line 4, column time", "not ISO 8601")),
                 id="unreadable-time-after-good-rows"),
    pytest.param(ImportCase(rows("b1,9,,x"), ABORT, 2, "out",
                            ("nothing imported", "line 4, column time", "time is missing")),
                 id="missing-time"),
    pytest.param(ImportCase(rows("a1,9,2026-11-01T12:00:00Z,again"),
                            (*ABORT, "--id-column", "id"), 2, "out",
                            ("nothing imported", "line 4, column id", "id 'a1' repeats line 2")),
                 id="repeated-id"),
    pytest.param(ImportCase(rows("b1,0,2026-11-01T10:00:00Z,x"), (*ABORT, "--scale", "1-10"), 2,
                            "out", ("nothing imported", "line 4, column score",
                                    "score 0 is outside the 1-10 scale")),
                 id="zero-on-1-10-scale"),
    pytest.param(ImportCase(rows("b1,x,2026-11-01T10:00:00Z,", "b2,12,2026-11-01T10:00:00Z,",
                                 "b3,8,never,", "b4,-,2026-11-01T10:00:00Z,"),
                            ("--max-errors", "2"), 2, "out",
                            ("import aborted, more than 2 errors by line 6; nothing imported",
                             "line 4, column score", "line 6, column time")),
                 id="max-errors-exceeded"),
    pytest.param(ImportCase("id,score,time,comment\na1,9,01.11.2026 10:00,great\n"
                            "b1,9,20/11/2026 10:00,x\n",
                            (*ABORT, "--time-format", "%d.%m.%Y %H:%M"), 2, "out",
                            ("nothing imported", "line 3, column time",
                             "does not match '%d.%m.%Y %H:%M'")),
                 id="time-format-mismatch"),
    # The shared input rules (issue 6): the REST reasons, after "line L, column C:".
    pytest.param(ImportCase(rows("b1,9,0001-01-01T00:00:00Z,x", good_first=False), (), 1, "out",
                            ("line 2, column time: must lie between 2000-01-01 and now + 24 h, "
                             "got 0001-01-01T00:00:00Z", "1 refused rows were NOT imported")),
                 id="null-date-iso"),
    pytest.param(ImportCase(rows("b1,9,1/1/0001 12:00:00 AM,x"), ABORT, 2, "out",
                            ("nothing imported", "line 4, column time: must lie between "
                             "2000-01-01 and now + 24 h, got 0001-01-01T00:00:00Z")),
                 id="null-date-dotnet"),
    pytest.param(ImportCase(rows("b1,9,9999-12-31T23:59:59Z,x"), ABORT, 2, "out",
                            ("nothing imported", "line 4, column time: must lie between",
                             "got 9999-12-31T23:59:59Z")), id="year-9999"),
    pytest.param(ImportCase(rows("b1,9,1999-12-31 23:59:59,x"), ABORT, 2, "out",
                            ("nothing imported", "line 4, column time: must lie between")),
                 id="just-before-2000"),
    pytest.param(ImportCase(rows("b1,9,2026-11-01T10:00:00Z,\x1b[31m" + "x" * 130_000), ABORT,
                            2, "out", ("nothing imported", "line 4, column comment: is 130004 "
                                       "characters; the limit is 10000")),
                 id="comment-130000"),
    pytest.param(ImportCase("id,score,time,comment,plan\n"
                            "a1,9,2026-11-01T10:00:00Z,great,team\n"
                            "b1,9,2026-11-01T10:00:00Z,x,\x1b[2J\x1b[31m" + "p" * 5_000 + "\n",
                            (*ABORT, "--segment", "plan"), 2, "out",
                            ("nothing imported", "line 3, column plan: must be one line without "
                             "control characters")), id="segment-5000-terminal-escapes"),
    pytest.param(ImportCase("id,score,time,comment,plan\n"
                            "a1,9,2026-11-01T10:00:00Z,great,team\n"
                            "b1,9,2026-11-01T10:00:00Z,x," + "p" * 201 + "\n",
                            (*ABORT, "--segment", "plan"), 2, "out",
                            ("nothing imported", "line 3, column plan: is 201 characters; the "
                             "limit is 200")), id="segment-201-chars"),
    pytest.param(ImportCase("id,score,time,comment,plan\n"
                            "a1,9,2026-11-01T10:00:00Z,great,\u202eeert\n",
                            ("--segment", "plan"), 1, "out",
                            ("line 2, column plan: must not contain text-direction override",)),
                 id="segment-bidi-override"),
    pytest.param(ImportCase(rows("b1,\u0661\u0660,2026-11-01T10:00:00Z,x"), ABORT, 2, "out",
                            ("nothing imported", "line 4, column score: must be written with the "
                             "digits 0-9, got '\u0661\u0660'")), id="score-arabic-indic-digits"),
    pytest.param(ImportCase(rows("b1,\uff11\uff10,2026-11-01T10:00:00Z,x"), ABORT, 2, "out",
                            ("nothing imported", "line 4, column score: must be written with the "
                             "digits 0-9")), id="score-fullwidth-digits"),
    pytest.param(ImportCase(rows("b\x1b1,9,2026-11-01T10:00:00Z,x"), (*ABORT, "--id-column", "id"),
                            2, "out", ("nothing imported", "line 4, column id: must be one line "
                                       "without control characters")), id="id-control-char"),
    pytest.param(ImportCase(rows("x" * 256 + ",9,2026-11-01T10:00:00Z,x"),
                            (*ABORT, "--id-column", "id"), 2, "out",
                            ("line 4, column id: is 256 characters; the limit is 255",)),
                 id="id-too-long"),
    # Refused before any row is read (exit 2, on stderr).
    pytest.param(ImportCase(rows(), ("--score", "rating"), 2, "err",
                            ("--score 'rating': no such column",)), id="unknown-score-column"),
    pytest.param(ImportCase(rows(), ("--time", "submitted"), 2, "err",
                            ("--time 'submitted': no such column",)), id="unknown-time-column"),
    pytest.param(ImportCase(rows(), ("--segment", "plan"), 2, "err",
                            ("--segment 'plan': no such column",)), id="unknown-segment-column"),
    pytest.param(ImportCase(rows(), ("--score", "9"), 2, "err",
                            ("--score 9: no such position", "the file has 4 columns")),
                 id="column-position-out-of-range"),
    pytest.param(ImportCase(rows(), ("--timezone", "Mars/Olympus"), 2, "err",
                            ("--timezone 'Mars/Olympus': unknown time zone",)),
                 id="unknown-timezone"),
    pytest.param(ImportCase("", (), 2, "err", ("is empty: no header row",)), id="empty-file"),
    pytest.param(ImportCase(rows().encode() + b"b1,9,2026-11-01T10:00:00Z,caf\xe9\n", (), 2,
                            "err", ("not UTF-8 text",)), id="not-utf8"),
]


@pytest.fixture
def cli_env(env: pytest.MonkeyPatch, seeded: Store) -> Store:
    """`nps-tv` pointed at the seeded store's database."""
    env.setenv("NPS_TV_DATABASE_URL", seeded.url)
    return seeded


def run_import(path: Path, *args: str) -> int:
    argv = ["import", str(path), "--score", "score", "--time", "time", "--comment", "comment",
            "--no-progress"]
    # Later options win in argparse, so a case can replace --score or --time.
    return main([*argv, *args])


@pytest.mark.parametrize("case", IMPORT_CASES)
def test_malformed_import_is_refused_and_changes_nothing(cli_env: Store, tmp_path: Path, capsys,
                                                         case: ImportCase):
    path = tmp_path / "export.csv"
    if isinstance(case.csv, bytes):
        path.write_bytes(case.csv)
    else:
        path.write_text(case.csv, encoding="utf-8")
    before = snapshot(cli_env)
    assert run_import(path, *case.args) == case.exit_code
    captured = capsys.readouterr()
    said = captured.out if case.stream == "out" else captured.err
    for text in case.says:
        assert text in said, said
    assert snapshot(cli_env) == before


def test_import_with_the_same_file_minus_the_bad_row_succeeds(cli_env: Store, tmp_path: Path):
    """The control for the cases above: the good rows alone import cleanly."""
    path = tmp_path / "export.csv"
    path.write_text(rows(), encoding="utf-8")
    assert run_import(path, *ABORT) == 0
    assert cli_env.count_responses() == 3 + 2


def test_import_with_a_nul_in_a_comment_is_written_whole(cli_env: Store, tmp_path: Path):
    """PostgreSQL text cannot hold NUL: the store drops it rather than fail a later batch."""
    path = tmp_path / "export.csv"
    lines = [f"n{i},9,2026-11-01T10:00:00Z,fine" for i in range(2_500)]
    lines[2_200] = "n2200,9,2026-11-01T10:00:00Z,bad\x00byte"
    path.write_text(rows(*lines, good_first=False), encoding="utf-8")
    assert run_import(path, "--id-column", "id") == 0
    assert cli_env.count_responses() == 3 + 2_500
