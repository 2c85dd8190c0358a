"""The shared input rules (app.ingest.rules) that REST, CSV import and the CLI all apply."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.config import Settings
from app.ingest.rules import (
    MAX_COMMENT,
    TimeRange,
    check_segment_name,
    clean_comment,
    clean_external_id,
    clean_label,
    clean_line,
    clean_note,
    clean_segment_value,
    parse_ascii_int,
    parse_iso_time,
)

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


# -- times ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("moment", [
    datetime(2000, 1, 1, tzinfo=UTC),
    NOW + timedelta(hours=24),
    datetime(2000, 1, 1, 1, tzinfo=timezone(timedelta(hours=1))),  # 2000-01-01T00:00Z
])
def test_times_at_the_ends_of_the_range_pass(moment: datetime):
    assert TimeRange().check(moment, now=NOW) is moment


@pytest.mark.parametrize(("moment", "got"), [
    (datetime(1, 1, 1, tzinfo=UTC), "got 0001-01-01T00:00:00Z"),
    (datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC), "got 9999-12-31T23:59:59Z"),
    (datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC), "got 1999-12-31T23:59:59Z"),
    (NOW + timedelta(hours=24, seconds=1), "got 2026-12-02T12:00:01Z"),
    # Out of datetime's range once moved to UTC: refused, not an OverflowError.
    (datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))), "got 0001-01-01T00:00:00+01:00"),
    (datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-2))),
     "got 9999-12-31T23:00:00-02:00"),
])
def test_times_outside_the_range_are_refused_naming_it(moment: datetime, got: str):
    with pytest.raises(ValueError) as caught:
        TimeRange().check(moment, now=NOW)
    assert str(caught.value) == f"must lie between 2000-01-01 and now + 24 h, {got}"


def test_naive_time_is_refused():
    with pytest.raises(ValueError, match="must include a time zone"):
        TimeRange().check(datetime(2020, 1, 1), now=NOW)


def test_range_comes_from_the_settings():
    time_range = TimeRange.from_settings(Settings(earliest_date="2018-06-01", future_hours=1.5))
    assert time_range == TimeRange(datetime(2018, 6, 1, tzinfo=UTC), timedelta(hours=1.5))
    with pytest.raises(ValueError, match="between 2018-06-01 and now \\+ 1.5 h"):
        time_range.check(NOW + timedelta(hours=2), now=NOW)


@pytest.mark.parametrize(("text", "reason"), [
    ("2026-11-20T09:30:00", "must include a time zone (Z or +01:00)"),
    ("yesterday", "must be an ISO 8601 time like 2026-11-23T09:30:00Z, got 'yesterday'"),
    ("2026-02-30T10:00:00Z", "must be an ISO 8601 time"),
])
def test_iso_time_needs_a_valid_time_and_zone(text: str, reason: str):
    with pytest.raises(ValueError) as caught:
        parse_iso_time(text)
    assert reason in str(caught.value)


def test_iso_time_keeps_its_offset():
    assert parse_iso_time(" 2026-11-20T09:30:00+01:00 ") == datetime(2026, 11, 20, 8, 30,
                                                                      tzinfo=UTC)


# -- text -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "kept"), [
    ("Great\x1b[31m support", "Great[31m support"),  # ESC gone: no terminal escape survives
    ("a\x00b\x07c\x7fd\x85e\x9bf", "abcdef"),  # C0, DEL and C1 controls
    ("left\u202eright\u2066x\u2069", "leftrightx"),  # overrides and isolates
    ("line one\r\nline two\n\n\tindented", "line one\r\nline two\n\n\tindented"),
    ("\u200fmark kept\u200e", "\u200fmark kept\u200e"),  # marks do not reorder text
    ("  padded  ", "padded"),
])
def test_comment_is_stripped_of_control_and_override_characters(raw: str, kept: str):
    assert clean_comment(raw) == kept


@pytest.mark.parametrize("raw", [
    "\u200b\u200b \u2060\ufeff",  # zero-width space, word joiner, BOM
    "\u200c\u200d\u00a0\u3000",  # joiners, no-break and ideographic spaces
    "\u3164\u2800 \u115f",  # Hangul fillers and the blank braille cell
    "\u200e\x1b\u202e",  # a mark with what the cleaning strips
])
def test_comment_that_shows_nothing_is_empty_like_a_blank_one(raw: str):
    assert clean_comment(raw) == "" == clean_comment("   ")
    assert clean_note(raw) == ""


@pytest.mark.parametrize("raw", ["\u200bhi\u200b", "\u00e9", "\U0001f44d", "\u4e2d"])
def test_comment_that_shows_something_is_kept_as_written(raw: str):
    assert clean_comment(raw) == raw


@pytest.mark.parametrize("name", ["country", "_x", "job_title2", "a" * 64])
def test_segment_names_follow_one_rule(name: str):
    assert check_segment_name(name) == name


@pytest.mark.parametrize("name", ["", "2country", "job title", "in what country?", "a" * 65,
                                  "plan\n", "pl\u00e4n"])
def test_segment_names_breaking_the_rule_are_refused_naming_it(name: str):
    with pytest.raises(ValueError, match="^must be a letter or _ followed by up to 63 letters, "
                                         "digits or _$"):
        check_segment_name(name)


def test_comment_limit_counts_what_is_kept():
    assert clean_comment("\x1b" * 50 + "x" * MAX_COMMENT) == "x" * MAX_COMMENT
    with pytest.raises(ValueError, match="^is 10001 characters; the limit is 10000$"):
        clean_comment("x" * (MAX_COMMENT + 1))


@pytest.mark.parametrize(("raw", "reason"), [
    ("team\nadmin", "must be one line without control characters"),
    ("team\radmin", "must be one line"),
    ("team\tadmin", "must be one line"),
    ("team\u2028admin", "must be one line"),
    ("team\u2029admin", "must be one line"),
    ("te\x85am", "must be one line"),
    ("\x1b[2Jteam", "must be one line without control characters"),
    ("te\x00am", "control characters"),
    ("\u202eeert", "must not contain text-direction override characters"),
    ("x" * 201, "is 201 characters; the limit is 200"),
])
def test_segment_value_must_be_one_clean_line(raw: str, reason: str):
    with pytest.raises(ValueError) as caught:
        clean_segment_value(raw)
    assert reason in str(caught.value)


@pytest.mark.parametrize(("raw", "kept"), [
    ("EMEA\u200b", "EMEA"), ("\ufeffEMEA", "EMEA"), ("\u200b\u200b", ""), ("\u2800", ""),
    ("Zu\u0308rich", "Z\u00fcrich"),  # NFD: the same value as the NFC one it looks like
    ("Caf\u00e9\u200dBar", "Caf\u00e9\u200dBar"),  # inside a value: left as sent
])
def test_a_segment_value_is_what_a_screen_shows_of_it(raw: str, kept: str):
    """A value with a zero-width character at an end, or typed with a combining mark, was a
    value of its own beside the one it looks like (two "Zürich" rows, a blank one)."""
    assert clean_segment_value(raw) == kept


def test_invisible_segment_values_are_dropped_on_every_way_in(client):
    from tests.conftest import ADMIN_TOKEN, INGEST_TOKEN

    body = [{"score": 9, "external_id": "s1", "segments": {"region": "EMEA\u200b",
                                                           "plan": "\u200b"}},
            {"score": 7, "external_id": "s2", "segments": {"region": "EMEA",
                                                           "city": "Zu\u0308rich"}}]
    response = client.post("/api/v1/responses", json=body,
                           headers={"Authorization": f"Bearer {INGEST_TOKEN}"})
    assert response.status_code == 201, response.get_json()
    rows = {r["external_id"]: r["segments"] for r in client.get(
        "/api/v1/responses", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    ).get_json()["responses"]}
    assert rows["s1"] == {"region": "EMEA"} and rows["s2"]["city"] == "Z\u00fcrich"


def test_one_line_values_are_trimmed_and_may_be_at_the_limit():
    assert clean_segment_value("  Café — Zürich  ") == "Café — Zürich"
    assert clean_segment_value("x" * 200) == "x" * 200
    assert clean_line("abc", 3) == "abc"


@pytest.mark.parametrize(("rule", "raw", "reason"), [
    (clean_external_id, "", "must not be empty"),
    (clean_external_id, "   ", "must not be empty"),
    (clean_external_id, "x" * 256, "is 256 characters; the limit is 255"),
    (clean_external_id, "a\x01b", "must be one line without control characters"),
    (clean_label, " ", "must not be empty"),
    (clean_label, "x" * 201, "is 201 characters; the limit is 200"),
    (clean_label, "v2\nreleased", "must be one line without control characters"),
    (clean_note, "n" * 2001, "is 2001 characters; the limit is 2000"),
])
def test_ids_labels_and_notes_have_their_limits(rule, raw: str, reason: str):
    with pytest.raises(ValueError) as caught:
        rule(raw)
    assert str(caught.value) == reason


def test_ids_labels_and_notes_pass_when_clean():
    assert clean_external_id(" r-42 ") == "r-42"
    assert clean_label("v2.3 released") == "v2.3 released"
    assert clean_note("Fixes\x1b[0m\nmore\u202e") == "Fixes[0m\nmore"


# -- digits ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "value"), [("10", 10), (" 0 ", 0), ("-3", -3), ("+7", 7)])
def test_ascii_integers_are_read(text: str, value: int):
    assert parse_ascii_int(text) == value


@pytest.mark.parametrize("text", ["\u0661\u0660", "\uff11\uff10", "\u0969", "1\u0660", "", "-",
                                  "1.0", "1_0"])
def test_other_digits_are_refused(text: str):
    with pytest.raises(ValueError, match="must be written with the digits 0-9"):
        parse_ascii_int(text)
