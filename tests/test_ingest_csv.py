"""CSV/TSV import: real survey exports, column mapping, validation, idempotency and the CLI."""

from __future__ import annotations

import argparse
import csv
import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from app.ingest import csv_files, csv_import
from app.ingest.cli_import import (
    EXIT_REFUSED_ROWS,
    EXIT_WRITE_FAILED,
    add_import_parser,
    run_import,
)
from app.ingest.csv_import import (
    BATCH_SIZE,
    ImportAborted,
    ImportError_,
    ImportFailed,
    ImportOptions,
    ImportWriteFailed,
    build_time_parser,
    import_file,
)
from app.ingest.rules import TimeRange
from app.metrics import DETRACTOR, PASSIVE, PROMOTER, categorize, compute_nps
from app.store import Store
from tests.conftest import make_record, real_data

SURVEY_2018 = "r-community-survey-2018.tsv"
SURVEY_2019 = "r-community-survey-2019.tsv"
CARPENTRIES = "carpentries-instructor-training-post-survey.csv"
HEADER = ["id", "score", "time", "best", "least", "country"]

# r-community-survey-2019.tsv by position (see tests/data/real/README.md):
# 1 Timestamp, 19 recommend R, 23/24 like best/least, 46 country, 47 industry,
# 48 job title, 49 work category.
OPTIONS_2019 = ImportOptions(
    score="19", time="1", comments=("23", "24"), scale="1-10",
    segments=("country=46", "industry=47", "job_title=48", "work_category=49"))


real_file = real_data  # the one skip-with-reason helper, from conftest


@pytest.fixture
def empty_store(tmp_path: Path) -> Iterator[Store]:
    """An upgraded SQLite store without topic tagging."""
    store = Store(f"sqlite:///{tmp_path / 'store.db'}", tagger=None)
    store.upgrade()
    yield store
    store.dispose()


def write_rows(folder: Path, rows: Sequence[Sequence[object]], header: Sequence[str] = HEADER,
               name: str = "answers.csv", delimiter: str = ",") -> Path:
    """Write a small export with ``csv.writer`` (quoting cells that need it)."""
    path = folder / name
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def basic_options(**overrides: object) -> ImportOptions:
    """Options for files written by ``write_rows``."""
    values: dict[str, object] = {"score": "score", "time": "time", "comments": ("best",)}
    values.update(overrides)
    return ImportOptions(**values)  # type: ignore[arg-type]


def stored(store: Store) -> list[dict]:
    """Every stored response (score, comment, created_at, segments) in insertion order.

    Read through the poller's public API, so the test does not depend on the table layout.
    """
    rows = store.changed_since(datetime(1970, 1, 1, tzinfo=UTC), 0)
    return [
        {"score": int(rows.scores[i]), "comment": rows.comments[i],
         "created_at": datetime.fromtimestamp(int(rows.created[i]), UTC),
         "segments": rows.segment_keys[int(rows.segment_sets[i])]}
        for i in sorted(range(len(rows)), key=lambda i: int(rows.ids[i]))
    ]


def stored_nps(store: Store) -> float | None:
    """NPS of the stored, counted responses, via app.metrics."""
    counts = {PROMOTER: 0, PASSIVE: 0, DETRACTOR: 0}
    with store.engine.connect() as conn:
        for score, excluded in conn.execute(text("SELECT score, excluded FROM responses")):
            if not excluded:
                counts[categorize(score)] += 1
    return compute_nps(counts[PROMOTER], counts[PASSIVE], counts[DETRACTOR])


# -- real survey exports ------------------------------------------------------------------


@pytest.mark.parametrize(("name", "options", "count", "nps"), [
    (SURVEY_2018, ImportOptions(score="Qrecommend", time="Qtime", scale="1-10",
                                comments=("Qlike_best", "Qlike_least"),
                                segments=("Qcountry", "Qindustry")), 3018, 72.13),
    (CARPENTRIES, ImportOptions(score="LikelyToRecommend", time="Date",
                                time_format="%m/%d/%y %H:%M",
                                segments=("MemberSite", "WhenTaking")), 889, 48.37),
    (CARPENTRIES, ImportOptions(score="LikelyToRecommend", time="Date",
                                segments=("MemberSite", "WhenTaking")), 889, 48.37),
], ids=["r-2018", "carpentries-explicit-format", "carpentries-auto-format"])
def test_real_export_stores_every_answered_row(empty_store: Store, name: str,
                                               options: ImportOptions, count: int, nps: float):
    report = import_file(empty_store, real_file(name), options)
    assert report.errors == []
    assert report.imported == count == empty_store.count_responses()
    assert report.rows_read == count + report.skipped_blank
    assert round(stored_nps(empty_store), 2) == nps


def test_r_2018_keeps_comments_segments_and_times(empty_store: Store):
    options = ImportOptions(score="Qrecommend", time="Qtime", scale="1-10",
                            comments=("Qlike_best", "Qlike_least"),
                            segments=("Qcountry", "industry=Qindustry"))
    import_file(empty_store, real_file(SURVEY_2018), options)
    first, second = stored(empty_store)[:2]
    assert first["created_at"] == datetime(2018, 12, 6, 16, 57, 58, tzinfo=UTC)
    assert json.loads(first["segments"]) == {"industry": "Research"}  # country is NA
    assert first["comment"] is None  # both comments are NA
    assert json.loads(second["segments"]) == {"qcountry": "Germany", "industry": "Research"}
    assert second["comment"].startswith("Perfect visualizations · Sometimes small things")
    assert any("ñ" in (row["comment"] or "") or "é" in (row["comment"] or "")
               for row in stored(empty_store))


def test_r_2019_by_position_loads_and_reimport_adds_nothing(empty_store: Store):
    path = real_file(SURVEY_2019)
    first = import_file(empty_store, path, OPTIONS_2019)
    assert first.errors == []
    assert first.imported == 1795 == empty_store.count_responses()
    assert first.skipped_blank == first.rows_read - 1795
    row = stored(empty_store)[0]
    assert row["created_at"] == datetime(2019, 12, 13, 9, 50, 30, tzinfo=UTC)
    assert set(json.loads(row["segments"])) <= {"country", "industry", "job_title",
                                                "work_category"}
    again = import_file(empty_store, path, OPTIONS_2019)
    assert (again.imported, again.updated, again.unchanged) == (0, 0, 1795)
    assert empty_store.count_responses() == 1795


def test_identical_rows_are_kept_as_separate_answers(empty_store: Store, tmp_path: Path):
    path = write_rows(tmp_path, [["", 9, "2024-05-01T10:00:00Z", "same", "", ""]] * 3)
    report = import_file(empty_store, path, basic_options())
    assert report.imported == 3
    assert import_file(empty_store, path, basic_options()).unchanged == 3


# -- cells --------------------------------------------------------------------------------


def test_multiline_quoted_comment_survives_intact(empty_store: Store, tmp_path: Path):
    comment = 'First line, with "quotes"\nsecond line\tand a tab\n\nCafé, Ñandú, 東京'
    path = write_rows(tmp_path, [["a", 10, "2024-05-01T10:00:00Z", comment, "", ""],
                                 ["b", 3, "2024-05-01T11:00:00Z", "short", "", ""]])
    report = import_file(empty_store, path, basic_options())
    assert (report.rows_read, report.imported) == (2, 2)
    assert [r["comment"] for r in stored(empty_store)] == [comment, "short"]


@pytest.mark.parametrize(("best", "least", "expected"), [
    ("Fast", "Pricey", "Fast · Pricey"),
    ("Flexibility", "Hard to say", "Flexibility · Hard to say"),
    ("Fast", "NA", "Fast"),
    ("  ", "Pricey", "Pricey"),
    ("N/A", "", None),
])
def test_comment_columns_stay_visibly_apart(empty_store: Store, tmp_path: Path, best: str,
                                            least: str, expected: str | None):
    # Cards collapse whitespace, so the parts need a joiner that shows on one line.
    path = write_rows(tmp_path, [["a", 8, "2024-05-01T10:00:00Z", best, least, ""]])
    import_file(empty_store, path, basic_options(comments=("best", "least")))
    assert stored(empty_store)[0]["comment"] == expected


def test_reimport_after_a_joiner_change_updates_rows_in_place(empty_store: Store,
                                                              tmp_path: Path, monkeypatch):
    # No id column: rows are keyed by a hash of their raw cells, never of the joined text.
    path = write_rows(tmp_path, [["", 8, "2024-05-01T10:00:00Z", "Fast", "Pricey", ""],
                                 ["", 9, "2024-05-02T10:00:00Z", "Calm", "", ""]])
    options = basic_options(id_column=None, comments=("best", "least"))
    monkeypatch.setattr(csv_import, "COMMENT_JOINER", "\n\n")  # as imported before
    import_file(empty_store, path, options)
    monkeypatch.undo()
    again = import_file(empty_store, path, options)
    assert (again.imported, again.updated, again.unchanged) == (0, 1, 1)
    assert [r["comment"] for r in stored(empty_store)] == ["Fast · Pricey", "Calm"]


@pytest.mark.parametrize("blank", ["", "NA", "N/A", "   ", "na"])
def test_missing_score_is_skipped_not_an_error(empty_store: Store, tmp_path: Path, blank: str):
    path = write_rows(tmp_path, [["a", blank, "2024-05-01T10:00:00Z", "x", "", ""],
                                 ["b", 9, "2024-05-01T10:00:00Z", "y", "", ""]])
    report = import_file(empty_store, path, basic_options())
    assert (report.skipped_blank, report.imported, report.errors) == (1, 1, [])


def test_segments_named_after_header_or_given_names(empty_store: Store, tmp_path: Path):
    path = write_rows(tmp_path, [["a", 9, "2024-05-01T10:00:00Z", "", "", " France "],
                                 ["b", 9, "2024-05-01T10:00:00Z", "", "Slow", "NA"]])
    import_file(empty_store, path, basic_options(segments=("country", "mood=5")))
    assert [json.loads(r["segments"]) for r in stored(empty_store)] == [
        {"country": "France"}, {"mood": "Slow"}]


@pytest.mark.parametrize(("segments", "says"), [
    (("6",), "--segment '6': the segment would be named after its header 'in what country do "
             "you currently reside?', which is not a segment name (it must be a letter or _ "
             "followed by up to 63 letters, digits or _); name it: --segment NAME=6"),
    (("home country=6",), "--segment 'home country=6': the name 'home country' must be a "
                          "letter or _ followed by up to 63 letters, digits or _"),
    ({"2land": 6}, "--segment '2land=6': the name '2land' must be a letter"),
    (tuple(f"s{i}=6" for i in range(21)), "--segment is given 21 times; the limit is 20"),
])
def test_segment_names_follow_the_rest_rule(empty_store: Store, tmp_path: Path,
                                            segments: object, says: str):
    """A column given by position under a whole-question header was stored under the
    question's text, a segment name REST refuses and no filter can name."""
    header = [*HEADER[:5], "In what country do you currently reside?"]
    path = write_rows(tmp_path, [["a", 9, "2024-05-01T10:00:00Z", "", "", "Peru"]], header)
    with pytest.raises(ImportFailed) as caught:
        import_file(empty_store, path, basic_options(segments=segments))
    assert says in str(caught.value)
    assert empty_store.count_responses() == 0
    import_file(empty_store, path, basic_options(segments=("country=6",)))  # the documented way
    assert json.loads(stored(empty_store)[0]["segments"]) == {"country": "Peru"}


def test_segments_accept_a_mapping(empty_store: Store, tmp_path: Path):
    path = write_rows(tmp_path, [["a", 9, "2024-05-01T10:00:00Z", "", "", "Peru"]])
    import_file(empty_store, path, basic_options(segments={"land": 6}))
    assert json.loads(stored(empty_store)[0]["segments"]) == {"land": "Peru"}


# -- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(("score", "reason"), [
    ("eleven", "not a number"),
    ("11", "outside the 0-10 scale"),
    ("-1", "outside the 0-10 scale"),
    ("7.5", "not a whole number"),
    pytest.param("9" * 5_000, "score " + "9" * 39 + "… is outside the 0-10 scale",
                 id="5000-digits"),  # float() reads it as inf: it was "not a whole number"
    pytest.param("-" + "9" * 400, "is outside the 0-10 scale", id="minus-400-digits"),
])
def test_bad_score_is_reported_with_line_and_column(empty_store: Store, tmp_path: Path,
                                                    score: str, reason: str):
    # The first row's comment spans three physical lines, so the bad row starts on line 5.
    path = write_rows(tmp_path, [["a", 9, "2024-05-01T10:00:00Z", "one\ntwo\nthree", "", ""],
                                 ["b", score, "2024-05-01T10:00:00Z", "bad", "", ""],
                                 ["c", 10, "2024-05-01T10:00:00Z", "fine", "", ""]])
    report = import_file(empty_store, path, basic_options())
    assert len(report.errors) == 1
    error = report.errors[0]
    assert (error.line, error.column) == (5, "score")
    assert reason in error.reason
    assert report.imported == 2 == empty_store.count_responses()


@pytest.mark.parametrize("when", ["yesterday", "13/45/2019 9:00:00", "2024-02-30T10:00:00Z",
                                  "NA"])
def test_bad_time_is_reported_and_the_row_left_out(empty_store: Store, tmp_path: Path,
                                                   when: str):
    path = write_rows(tmp_path, [["a", 9, when, "x", "", ""],
                                 ["b", 9, "2024-05-01T10:00:00Z", "y", "", ""]])
    report = import_file(empty_store, path, basic_options())
    assert [(e.line, e.column) for e in report.errors] == [(2, "time")]
    assert "time" in report.errors[0].reason
    assert [r["comment"] for r in stored(empty_store)] == ["y"]


def test_too_many_errors_abort_and_leave_the_store_empty(empty_store: Store, tmp_path: Path):
    good = [[f"g{i}", 9, "2024-05-01T10:00:00Z", "", "", ""] for i in range(BATCH_SIZE + 500)]
    bad = [[f"b{i}", "x", "2024-05-01T10:00:00Z", "", "", ""] for i in range(4)]
    path = write_rows(tmp_path, good + bad + good[:1])
    with pytest.raises(ImportAborted) as caught:
        import_file(empty_store, path, basic_options(max_errors=3))
    assert caught.value.report.aborted
    assert len(caught.value.report.errors) == 4
    assert empty_store.count_responses() == 0


def test_errors_up_to_the_limit_still_import_the_good_rows(empty_store: Store, tmp_path: Path):
    rows = [["a", "x", "2024-05-01T10:00:00Z", "", "", ""],
            ["b", 12, "2024-05-01T10:00:00Z", "", "", ""],
            ["c", 7, "2024-05-01T10:00:00Z", "", "", ""]]
    report = import_file(empty_store, write_rows(tmp_path, rows), basic_options(max_errors=2))
    assert [e.line for e in report.errors] == [2, 3]
    assert report.imported == 1


def test_dry_run_validates_and_writes_nothing(empty_store: Store, tmp_path: Path):
    rows = [["a", 9, "2024-05-01T10:00:00Z", "", "", ""],
            ["b", "bad", "2024-05-01T10:00:00Z", "", "", ""],
            ["c", "", "2024-05-01T10:00:00Z", "", "", ""]]
    report = import_file(empty_store, write_rows(tmp_path, rows), basic_options(dry_run=True))
    assert (report.rows_read, report.valid, report.skipped_blank) == (3, 1, 1)
    assert report.errors == [ImportError_(3, "score", "score 'bad' is not a number")]
    assert report.imported == 0 == empty_store.count_responses()


@pytest.mark.parametrize(("scale", "accepted"), [("0-10", True), ("1-10", False)])
def test_scale_decides_whether_zero_is_allowed(empty_store: Store, tmp_path: Path,
                                               scale: str, accepted: bool):
    path = write_rows(tmp_path, [["a", 0, "2024-05-01T10:00:00Z", "", "", ""]])
    report = import_file(empty_store, path, basic_options(scale=scale))
    assert (report.imported == 1) is accepted
    if not accepted:
        assert "outside the 1-10 scale" in report.errors[0].reason


@pytest.mark.parametrize(("option", "spec", "flag", "hint"), [
    ("score", "scroe", "--score", "'score' (position 2)"),
    ("time", "Time", "--time", "'time' (position 3)"),
    ("comments", ("bestt",), "--comment", "'best' (position 4)"),
    ("segments", ("land=contry",), "--segment", "'country' (position 6)"),
    ("id_column", "ID", "--id-column", "'id' (position 1)"),
    ("score", "7", "--score", "no such position; the file has 6 columns"),
    ("segments", ("country", "country=best"), "--segment", "'country' is given twice"),
    ("scale", "0-5", "--scale", "choose one of 0-10, 1-10"),
    ("timezone", "Mars/Olympus", "--timezone", "unknown time zone"),
])
def test_bad_option_error_names_the_option(empty_store: Store, tmp_path: Path, option: str,
                                         spec: object, flag: str, hint: str):
    path = write_rows(tmp_path, [["a", 9, "2024-05-01T10:00:00Z", "", "", ""]])
    with pytest.raises(ImportFailed) as caught:  # ImportOptions itself checks scale
        import_file(empty_store, path, basic_options(**{option: spec}))
    assert flag in str(caught.value)
    assert hint in str(caught.value)


def test_duplicate_id_in_one_file_is_an_error(empty_store: Store, tmp_path: Path):
    rows = [["a", 9, "2024-05-01T10:00:00Z", "", "", ""],
            ["a", 3, "2024-05-01T10:00:00Z", "", "", ""]]
    report = import_file(empty_store, write_rows(tmp_path, rows), basic_options(id_column="id"))
    assert report.errors == [ImportError_(3, "id", "id 'a' repeats line 2")]


def test_id_column_reimport_updates_changed_rows(empty_store: Store, tmp_path: Path):
    rows = [["a", 9, "2024-05-01T10:00:00Z", "", "", ""],
            ["b", 3, "2024-05-01T10:00:00Z", "", "", ""]]
    import_file(empty_store, write_rows(tmp_path, rows), basic_options(id_column="id"))
    rows[1][1] = 4
    report = import_file(empty_store, write_rows(tmp_path, rows), basic_options(id_column="id"))
    assert (report.imported, report.updated, report.unchanged) == (0, 1, 1)


def test_file_that_is_not_utf8_fails_clearly(empty_store: Store, tmp_path: Path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("score,comment\n9,caf\xe9\n".encode("latin-1"))
    with pytest.raises(ImportFailed, match="not UTF-8"):
        import_file(empty_store, path, ImportOptions(score="score"))


@pytest.mark.parametrize("where", [2, 300, 5_000])
def test_not_utf8_names_the_line_and_byte_of_the_bad_byte(empty_store: Store, tmp_path: Path,
                                                          where: int):
    """The reader decodes ahead in blocks: a bad byte on line 300 was reported "near line 1"."""
    lines = [b"id,score,time,comment\n"] + [
        b"r%d,9,2024-05-01T10:00:00Z,caf\xc3\xa9 ok\n" % i for i in range(2, 5_001)]
    lines[where - 1] = lines[where - 1].replace(b"caf\xc3\xa9", b"caf\xe9")
    path = tmp_path / "mixed.csv"
    path.write_bytes(b"".join(lines))
    byte = b"".join(lines).index(b"caf\xe9") + 4  # 1-based position of \xe9
    with pytest.raises(ImportFailed) as caught:
        import_file(empty_store, path, ImportOptions(score="score", time="time"))
    assert f"mixed.csv, line {where:,} (byte {byte:,}): not UTF-8 text (byte 0xE9" in str(
        caught.value)
    assert empty_store.count_responses() == 0


def test_a_cell_past_the_csv_modules_default_limit_refuses_only_its_row(
        empty_store: Store, tmp_path: Path):
    """131,072 characters, csv's default field limit, stopped the whole import (exit 2, "is a
    quote left open?"); a long comment is refused by line and column like a shorter one."""
    path = write_rows(tmp_path, [["a", 9, "2024-05-01T10:00:00Z", "fine", "", ""],
                                 ["b", 9, "2024-05-01T10:00:00Z", "x" * 200_000, "", ""],
                                 ["c", 7, "2024-05-01T10:00:00Z", "", "y" * 200_000, ""]])
    report = import_file(empty_store, path, basic_options())
    assert report.errors == [ImportError_(3, "best", "is 200000 characters; the limit is 10000")]
    assert report.imported == 2  # row c's long cell is in a column not imported


def test_a_cell_past_the_reader_limit_is_named_not_taken_for_a_quote(
        empty_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(csv_files, "CELL_LIMIT", 1_000)
    previous = csv.field_size_limit(1_000)  # the limit is only ever raised, never lowered
    try:
        path = write_rows(tmp_path, [["a", 9, "2024-05-01T10:00:00Z", "fine", "", ""],
                                     ["b", 9, "2024-05-01T10:00:00Z", "x" * 2_000, "", ""]])
        with pytest.raises(ImportFailed) as caught:
            import_file(empty_store, path, basic_options())
        assert str(caught.value) == ("answers.csv, line 3: a cell of the row there is longer "
                                     "than 1,000 characters, the most a cell may hold; "
                                     "nothing imported")
        quote = tmp_path / "quote.csv"
        quote.write_text("id,score,time,best\na,9,2024-05-01T10:00:00Z,\"open\n"
                         + "b,9,2024-05-01T10:00:00Z,x\n" * 100)
        with pytest.raises(ImportFailed, match=r"^quote\.csv, line 2: a cell of the row there is "
                                               r"longer than 1,000 characters.* \(the cell runs "
                                               r"on to line 3\d: if it should have ended sooner, "
                                               r"a quote in it is not closed\)$"):
            import_file(empty_store, quote, basic_options())
    finally:
        csv.field_size_limit(previous)
    assert empty_store.count_responses() == 0


def test_a_quote_left_open_to_the_end_of_the_file_is_refused_not_stored(empty_store: Store,
                                                                         tmp_path: Path):
    """The reader took every line after the open quote into one cell: the import said "read 1
    rows; imported 1, 0 errors", lost the other rows and stored raw CSV as a comment."""
    good = write_rows(tmp_path, [["a", 9, "2024-05-01T10:00:00Z", "fine", "", ""]],
                      name="good.csv")
    import_file(empty_store, good, basic_options())
    path = tmp_path / "open.csv"
    path.write_text("id,score,time,best\na,9,2024-05-01T10:00:00Z,\"never closed\n"
                    "b,8,2024-05-01T10:00:00Z,ok\nc,7,2024-05-01T10:00:00Z,ok\n")
    with pytest.raises(ImportFailed, match=r"^open\.csv, line 2: a quote opened in this row is "
                                           r"never closed .*nothing imported$"):
        import_file(empty_store, path, basic_options())
    assert empty_store.count_responses() == 1  # the earlier import's row alone
    closed = tmp_path / "closed.csv"  # a quoted line break in the last row is fine
    closed.write_text("id,score,time,best\nb,8,2024-05-01T10:00:00Z,\"two\nlines\"\n")
    assert import_file(empty_store, closed, basic_options()).imported == 1


def test_the_source_is_one_clean_line_whether_given_or_from_the_file_name(empty_store: Store,
                                                                         tmp_path: Path):
    """--source and the file name went to the store without the rules every other way in
    keeps: an ESC or a line break reached the store, the API and every export."""
    rows = [["a", 9, "2024-05-01T10:00:00Z", "", "", ""]]
    with pytest.raises(ImportFailed, match=r"^--source 'line1\\nline2': must be one line"):
        import_file(empty_store, write_rows(tmp_path, rows), basic_options(source="line1\nline2"))
    named = write_rows(tmp_path, rows, name="evil\x1b[2J\u202ename.csv")
    assert import_file(empty_store, named, basic_options()).source == "import:evil_[2J_name.csv"
    plain = write_rows(tmp_path, rows, name="My answers.csv")  # a re-import keeps its source
    assert import_file(empty_store, plain, basic_options()).source == "import:My answers.csv"


def test_a_segment_name_in_another_case_is_the_configured_field(empty_store: Store,
                                                                tmp_path: Path):
    """As on REST and the webhooks: --segment Region=country stored a field "Region" that no
    screen, filter or comparison shows when NPS_TV_SEGMENT_FIELDS says region."""
    path = write_rows(tmp_path, [["a", 9, "2024-05-01T10:00:00Z", "", "", "EMEA"]])
    import_file(empty_store, path, basic_options(segments={"Region": "country"},
                                                 fields=("product", "region")))
    assert json.loads(stored(empty_store)[0]["segments"]) == {"region": "EMEA"}


# -- times and delimiters -----------------------------------------------------------------


@pytest.mark.parametrize(("value", "time_format", "zone", "expected"), [
    ("2018-12-06T16:57:58Z", None, "UTC", datetime(2018, 12, 6, 16, 57, 58, tzinfo=UTC)),
    ("2024-07-01T12:00:00+02:00", None, "UTC", datetime(2024, 7, 1, 10, 0, tzinfo=UTC)),
    ("12/13/2019 9:50:30", None, "UTC", datetime(2019, 12, 13, 9, 50, 30, tzinfo=UTC)),
    ("9/8/18 15:29", None, "UTC", datetime(2018, 9, 8, 15, 29, tzinfo=UTC)),
    ("12/13/2019 9:50:30 PM", None, "UTC", datetime(2019, 12, 13, 21, 50, 30, tzinfo=UTC)),
    ("2024-07-01 12:00", None, "Europe/Paris", datetime(2024, 7, 1, 10, 0, tzinfo=UTC)),
    ("01.07.2024 12:00", "%d.%m.%Y %H:%M", "Europe/Paris", datetime(2024, 7, 1, 10, 0,
                                                                      tzinfo=UTC)),
    ("1764000000", "unix", "UTC", datetime(2025, 11, 24, 16, 0, tzinfo=UTC)),
    ("1764000000.5", "unix", "Europe/Paris", datetime(2025, 11, 24, 16, 0, 0, 500000,
                                                      tzinfo=UTC)),
    # the hour the clocks repeat: the first of the two
    ("2026-10-25 02:30", None, "Europe/Berlin", datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),
])
def test_time_parser_reads_common_export_formats(value: str, time_format: str | None,
                                                 zone: str, expected: datetime):
    tz = UTC if zone == "UTC" else ZoneInfo(zone)
    assert build_time_parser(time_format, tz)(value).astimezone(UTC) == expected


@pytest.mark.parametrize(("value", "time_format", "zone", "reason"), [
    # the hour the clocks skip in Berlin: no such time was ever shown there
    ("2026-03-29 02:30", None, "Europe/Berlin", "does not exist in Europe/Berlin"),
    ("3/29/2026 2:30", None, "Europe/Berlin", "does not exist in Europe/Berlin"),
    ("2026-02-29", None, "UTC", "is not a valid date: day is out of range for month"),
    ("2026-11-01T23:59:60Z", None, "UTC", "is not a valid date: second must be in 0..59"),
    ("1764000000000", "unix", "UTC", "is not Unix seconds"),
    ("-5", "unix", "UTC", "is not Unix seconds"),
])
def test_time_parser_says_why_a_time_cannot_be(value: str, time_format: str | None, zone: str,
                                               reason: str):
    """A time in the skipped hour was stored an hour off without a word; an impossible date
    was "not ISO 8601" whatever was wrong with it; Unix seconds could not be imported at all."""
    with pytest.raises(ValueError, match=reason):
        build_time_parser(time_format, ZoneInfo(zone))(value)


@pytest.mark.parametrize("time_format", ["%Q", "%Y-%m-%d %"])
def test_a_time_format_strptime_cannot_read_is_refused_before_any_row(empty_store: Store,
                                                                      tmp_path: Path,
                                                                      time_format: str):
    path = write_rows(tmp_path, [["a", 9, "2024-05-01", "", "", ""]])
    with pytest.raises(ImportFailed, match=r"^--time-format '.*': .*(bad directive|stray %)"):
        import_file(empty_store, path, basic_options(time_format=time_format))
    assert empty_store.count_responses() == 0


def test_timezone_applies_to_naive_times_on_import(empty_store: Store, tmp_path: Path):
    path = write_rows(tmp_path, [["a", 9, "12/13/2019 9:50:30", "", "", ""]])
    import_file(empty_store, path, basic_options(timezone="America/New_York"))
    assert stored(empty_store)[0]["created_at"] == datetime(2019, 12, 13, 14, 50, 30,
                                                                     tzinfo=UTC)


@pytest.mark.parametrize(("name", "delimiter"), [
    ("semi.csv", ";"), ("tabs.tsv", "\t"), ("pipes.txt", "|"), ("plain.csv", ","),
])
def test_delimiter_is_detected(empty_store: Store, tmp_path: Path, name: str, delimiter: str):
    path = write_rows(tmp_path, [["a", 9, "2024-05-01T10:00:00Z", "x, y; z", "", ""]],
                      name=name, delimiter=delimiter)
    report = import_file(empty_store, path, basic_options())
    assert (report.imported, report.errors) == (1, [])
    assert stored(empty_store)[0]["comment"] == "x, y; z"


def test_separators_inside_quoted_headers_do_not_decide_the_delimiter(empty_store: Store,
                                                                      tmp_path: Path):
    """A semicolon export whose headers are whole questions with commas (as SurveyMonkey's or
    Qualtrics' are, saved by a European Excel) was read as comma-separated: every row refused."""
    path = tmp_path / "answers.csv"
    path.write_text('"How likely are you, from 0 to 10, to recommend us?";"When, exactly?";'
                    '"Why, in a few words?"\n9;2024-05-01T10:00:00Z;"Great, fast; friendly"\n',
                    encoding="utf-8")
    report = import_file(empty_store, path, ImportOptions(score="1", time="2", comments=("3",)))
    assert (report.imported, report.errors) == (1, [])
    assert stored(empty_store)[0]["comment"] == "Great, fast; friendly"


@pytest.mark.parametrize("delimiter", ["::", "ab", '"', "\n"])
def test_a_delimiter_that_is_not_one_plain_character_is_refused(empty_store: Store,
                                                                 tmp_path: Path, delimiter: str):
    path = write_rows(tmp_path, [["a", 9, "2024-05-01T10:00:00Z", "", "", ""]])
    with pytest.raises(ImportFailed, match="--delimiter .*must be one character"):
        import_file(empty_store, path, basic_options(delimiter=delimiter))
    assert stored(empty_store) == []


def test_progress_bar_goes_to_stderr(empty_store: Store, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]):
    path = write_rows(tmp_path, [["a", 9, "2024-05-01T10:00:00Z", "", "", ""]])
    import_file(empty_store, path, basic_options(), progress=True)
    captured = capsys.readouterr()
    assert "importing" in captured.err
    assert captured.out == ""


# -- command line -------------------------------------------------------------------------


def run_cli(store: Store, argv: list[str]) -> int:
    """Parse ``argv`` with the import sub-command and run it."""
    parser = argparse.ArgumentParser(prog="nps-tv")
    add_import_parser(parser.add_subparsers(dest="command"))
    return run_import(parser.parse_args(argv), store)


@pytest.mark.parametrize(("scores", "extra", "code", "expected"), [
    ([9, 10, ""], [], 0, "imported 2, updated 0, unchanged 0, skipped blank 1"),
    ([9, "eleven"], [], 1, "line 3, column score: score 'eleven' is not a number"),
    ([9, "x", "y"], ["--max-errors", "1"], 2, "nothing imported"),
    ([9, "x"], ["--dry-run"], 1, "dry run, nothing written"),
])
def test_cli_summary_and_exit_code(empty_store: Store, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str], scores: list,
                                   extra: list[str], code: int, expected: str):
    rows = [[f"r{i}", s, "2024-05-01T10:00:00Z", "", "", "NL"] for i, s in enumerate(scores)]
    path = write_rows(tmp_path, rows)
    argv = ["import", str(path), "--score", "score", "--time", "3", "--comment", "best",
            "--segment", "country", "--no-progress", *extra]
    assert run_cli(empty_store, argv) == code
    assert expected in capsys.readouterr().out


def test_cli_unknown_column_fails_with_its_option(empty_store: Store, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]):
    path = write_rows(tmp_path, [["a", 9, "2024-05-01T10:00:00Z", "", "", ""]])
    argv = ["import", str(path), "--score", "nps", "--time", "time", "--no-progress"]
    assert run_cli(empty_store, argv) == 2
    assert "--score 'nps': no such column" in capsys.readouterr().err


def test_cli_requires_a_time_column(empty_store: Store, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]):
    # Without one, a re-import would move every response to the time of the import.
    path = write_rows(tmp_path, [["a", 9, "2024-05-01T10:00:00Z", "", "", ""]])
    with pytest.raises(SystemExit):
        run_cli(empty_store, ["import", str(path), "--score", "score", "--no-progress"])
    assert "--time" in capsys.readouterr().err
    assert empty_store.count_responses() == 0


# -- the shared input rules (issue 6) ---------------------------------------------------------


def labelled_2018(folder: Path) -> tuple[Path, int]:
    """The 2018 R survey with its scale ends labelled SurveyMonkey-style; how many were."""
    lines = real_file(SURVEY_2018).read_text(encoding="utf-8").split("\n")
    header = lines[0].split("\t")
    column = header.index("Qrecommend")
    labels = {"10": "10 - Extremely likely", "1": "1 - Not at all likely"}
    changed = 0
    for number, line in enumerate(lines[1:], start=1):
        cells = line.split("\t")
        if len(cells) > column and cells[column] in labels:
            cells[column] = labels[cells[column]]
            lines[number] = "\t".join(cells)
            changed += 1
    path = folder / "labelled-2018.tsv"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path, changed


def test_labelled_scale_ends_keep_the_real_2018_counts_and_nps(empty_store: Store,
                                                               tmp_path: Path):
    path, labelled = labelled_2018(tmp_path)
    assert labelled > 1000  # the ends are most of this survey's answers
    options = ImportOptions(score="Qrecommend", time="Qtime", scale="1-10",
                            comments=("Qlike_best", "Qlike_least"),
                            segments=("Qcountry", "Qindustry"))
    report = import_file(empty_store, path, options)
    assert report.errors == []
    assert (report.imported, report.labelled) == (3018, labelled)
    assert round(stored_nps(empty_store), 2) == 72.13


@pytest.mark.parametrize(("cell", "score"), [
    ("10 - Extremely likely", 10),
    ("0 - Not at all likely", 0),
    ("10 \u2013 Extremely likely", 10),
    ("10: Extremely likely", 10),
    ("0 (Not at all likely)", 0),
    ("5 - Neutral", 5),
])
def test_labelled_scale_cells_are_read_as_their_number(store: Store, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str],
                                                       cell: str, score: int):
    path = write_rows(tmp_path, [["a", cell, "2024-05-01T10:00:00Z", "x", "", ""],
                                 ["b", 9, "2024-05-01T10:00:00Z", "y", "", ""]])
    argv = ["import", str(path), "--score", "score", "--time", "time", "--no-progress"]
    assert run_cli(store, argv) == 0
    assert "1 labelled scale cells (such as '10 - Extremely likely') read as their number" in (
        capsys.readouterr().out)
    assert sorted(r["score"] for r in store.list_responses()) == sorted([score, 9])


@pytest.mark.parametrize(("cell", "reason"), [
    ("10 - 5", "score '10 - 5' is not a number"),
    ("\u0661\u0660", "must be written with the digits 0-9, got '\u0661\u0660'"),
    ("\uff11\uff10", "must be written with the digits 0-9, got '\uff11\uff10'"),
    ("\u0969", "must be written with the digits 0-9"),
    ("\u0661\u0660 - Extremely likely", "must be written with the digits 0-9"),
    ("1e1", "score '1e1' is not a number"),
    ("inf", "score 'inf' is not a number"),
])
def test_scores_in_other_digits_or_forms_are_refused_and_reported(
        store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str], cell: str,
        reason: str):
    store.upsert_responses([make_record(1, 7)])
    before = store.list_responses()
    path = write_rows(tmp_path, [["a", cell, "2024-05-01T10:00:00Z", "x", "", ""]])
    argv = ["import", str(path), "--score", "score", "--time", "time", "--no-progress"]
    assert run_cli(store, argv) == EXIT_REFUSED_ROWS
    assert f"line 2, column score: {reason}" in capsys.readouterr().out
    assert store.list_responses() == before


def test_comment_that_shows_nothing_is_no_comment_like_rest(empty_store: Store,
                                                           tmp_path: Path):
    path = write_rows(tmp_path, [["a", 9, "2024-05-01T10:00:00Z", "\u200b\u2060 \ufeff", "", ""],
                                 ["b", 9, "2024-05-01T10:00:00Z", "\u200b", "Slow", ""]])
    assert import_file(empty_store, path, basic_options(comments=("best", "least"))).errors == []
    assert [r["comment"] for r in stored(empty_store)] == [None, "Slow"]


def test_comment_is_cleaned_like_rest(empty_store: Store, tmp_path: Path):
    comment = "Great\x1b[31m support\u202e!\r\nSecond\tline\x07"
    path = write_rows(tmp_path, [["a", 9, "2024-05-01T10:00:00Z", comment, "", ""]])
    assert import_file(empty_store, path, basic_options()).errors == []
    assert stored(empty_store)[0]["comment"] == "Great[31m support!\nSecond\tline"


def test_time_range_is_the_one_given(empty_store: Store, tmp_path: Path):
    rows = [["a", 9, "2019-12-31T23:00:00Z", "", "", ""],
            ["b", 9, "2020-01-01T00:00:00Z", "", "", ""]]
    recent = TimeRange(earliest=datetime(2020, 1, 1, tzinfo=UTC))
    report = import_file(empty_store, write_rows(tmp_path, rows),
                         basic_options(time_range=recent))
    assert report.errors == [ImportError_(2, "time", "must lie between 2020-01-01 and "
                                                     "now + 24 h, got 2019-12-31T23:00:00Z")]
    assert report.imported == 1


def test_every_refused_row_is_counted_even_past_the_listed_ones(
        empty_store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    rows = [[f"b{i}", "x", "2024-05-01T10:00:00Z", "", "", ""] for i in range(25)]
    path = write_rows(tmp_path, [["a", 9, "2024-05-01T10:00:00Z", "", "", ""], *rows])
    argv = ["import", str(path), "--score", "score", "--time", "time", "--no-progress"]
    assert run_cli(empty_store, argv) == EXIT_REFUSED_ROWS
    out = capsys.readouterr().out
    assert "25 refused rows were NOT imported" in out
    assert "line 26, column score" not in out and "… and 5 more errors" in out


# -- all or nothing -----------------------------------------------------------------------------


def fail_inserts_at(store: Store, external_id: str) -> None:
    """Make the database itself refuse the insert of ``external_id`` (a disk-full stand-in)."""
    if store.dialect == "sqlite":
        statements = [
            f"CREATE TRIGGER fail_at BEFORE INSERT ON responses WHEN NEW.external_id = "
            f"'{external_id}' BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"]
    else:
        statements = [
            "CREATE FUNCTION fail_at() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF NEW.external_id = '{external_id}' THEN "
            "RAISE EXCEPTION 'could not extend file: No space left on device'; END IF; "
            "RETURN NEW; END $$",
            "CREATE TRIGGER fail_at BEFORE INSERT ON responses FOR EACH ROW "
            "EXECUTE FUNCTION fail_at()"]
    with store.engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)


def big_export(folder: Path, rows: int = 3 * BATCH_SIZE) -> Path:
    return write_rows(folder, [[f"r{i}", i % 11, "2024-05-01T10:00:00Z", f"c{i}", "", "NL"]
                               for i in range(rows)])


# workers: none, or a tagging process, which reads batches ahead of the store's writes (the
# message counted those as written); None is the default, chosen from the machine's load.
@pytest.mark.parametrize("workers", [0, 1, None])
def test_write_failure_mid_import_commits_nothing(store: Store, tmp_path: Path,
                                                  workers: int | None):
    store.upsert_responses([make_record(1, 7, comment="kept")])
    before = store.list_responses()
    fail_inserts_at(store, f"r{2 * BATCH_SIZE + 10}")  # in the third batch
    options = basic_options(id_column="id", segments=("country",), workers=workers)
    with pytest.raises(ImportWriteFailed) as caught:
        import_file(store, big_export(tmp_path), options)
    message = str(caught.value)
    assert message.startswith(f"writing to the store failed after {2 * BATCH_SIZE:,} of "
                              f"{3 * BATCH_SIZE:,} rows: ")
    assert message.endswith("rolled back, nothing imported")
    assert ("disk is full" in message) or ("No space left on device" in message)
    assert "\n" not in message and "INSERT" not in message
    assert store.list_responses() == before


def test_write_failure_exits_3_with_one_line_and_a_retry_imports_all(
        store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = big_export(tmp_path)
    fail_inserts_at(store, f"r{BATCH_SIZE + 1}")
    argv = ["import", str(path), "--score", "score", "--time", "time", "--id-column", "id",
            "--segment", "country", "--no-progress"]
    assert run_cli(store, argv) == EXIT_WRITE_FAILED
    captured = capsys.readouterr()
    assert captured.out == ""
    [line] = captured.err.strip().splitlines()
    assert line.startswith("import failed: writing to the store failed after")
    assert store.count_responses() == 0
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER fail_at" if store.dialect == "sqlite"
                             else "DROP TRIGGER fail_at ON responses")
    assert run_cli(store, argv) == 0
    assert store.count_responses() == 3 * BATCH_SIZE
    assert len({tuple(sorted(r["segments"].items())) for r in store.list_responses()}) == 1
