"""The import reads, checks and writes in one pass: each row is read once, a file refused
part-way (after batches were written) leaves the store, its search triggers and its index as
they were, repeated cells are checked once yet every refusal is reported, and the number of
tagging processes is chosen from an estimate of the rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.ingest import csv_files, csv_import
from app.ingest.csv_import import BATCH_SIZE, ImportAborted, ImportOptions, import_file
from app.store import Store
from tests.conftest import make_record
from tests.test_ingest_csv import basic_options, write_rows
from tests.test_store_bulk import found, index_is_whole, table, triggers

T = "2024-05-01T10:00:00Z"


def test_each_row_is_read_once(sqlite_store: Store, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch):
    rows = [[f"r{i}", i % 11, T, f"comment {i}", "", "NL"] for i in range(2 * BATCH_SIZE + 7)]
    path = write_rows(tmp_path, rows)
    read = []
    real = csv_files.iter_rows

    def counting(*args, **kwargs):
        for item in real(*args, **kwargs):
            read.append(item[0])
            yield item

    monkeypatch.setattr(csv_import, "iter_rows", counting)
    report = import_file(sqlite_store, path, basic_options(id_column="id"))
    assert report.imported == len(rows) == report.valid
    # the header once (the plan), then every data row once
    assert sorted(read) == sorted({1, *range(2, len(rows) + 2)}) and len(read) == len(rows) + 1


def test_a_file_refused_after_written_batches_leaves_the_store_as_it_was(
        sqlite_store: Store, tmp_path: Path):
    sqlite_store.upsert_responses([make_record(i, 8, comment=f"stored before {i}")
                                   for i in range(50)])
    before_rows, before_triggers = table(sqlite_store), triggers(sqlite_store)
    good = [[f"g{i}", 9, T, f"imported then rolled back {i}", "", ""]
            for i in range(2 * BATCH_SIZE + 300)]
    bad = [[f"b{i}", "x", T, "", "", ""] for i in range(3)]
    path = write_rows(tmp_path, good + bad)
    with pytest.raises(ImportAborted) as caught:
        import_file(sqlite_store, path, basic_options(id_column="id", max_errors=2))
    assert caught.value.report.aborted and caught.value.report.valid >= 2 * BATCH_SIZE
    assert table(sqlite_store) == before_rows
    assert triggers(sqlite_store) == before_triggers
    index_is_whole(sqlite_store, ("rolled back", "stored before"))
    assert not found(sqlite_store, "rolled back")
    report = import_file(sqlite_store, write_rows(tmp_path, good, name="good.csv"),
                         basic_options(id_column="id"))
    assert report.imported == len(good)
    assert len(found(sqlite_store, "imported then")) == 1000  # the explorer's page limit
    index_is_whole(sqlite_store, ("rolled back", "stored before"))


def test_a_repeated_refused_cell_is_reported_on_every_line(sqlite_store: Store,
                                                           tmp_path: Path):
    rows = [[f"r{i}", 9, T, "", "", "NL\x1b[31m" if i % 2 else "NL"] for i in range(10)]
    report = import_file(sqlite_store, write_rows(tmp_path, rows),
                         basic_options(id_column="id", segments=("country",)))
    assert [e.line for e in report.errors] == [3, 5, 7, 9, 11]
    assert {e.column for e in report.errors} == {"country"}
    assert report.imported == 5


def test_the_row_estimate_is_near_the_row_count(tmp_path: Path):
    rows = [[f"r{i}", i % 11, T, "a comment" * (i % 7), "", "NL"] for i in range(20_000)]
    path = write_rows(tmp_path, rows)
    estimate = csv_files.estimate_rows(path, path.stat().st_size)
    assert 0.8 * len(rows) <= estimate <= 1.2 * len(rows)


def test_workers_are_chosen_from_the_estimate(sqlite_store: Store, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch):
    asked = []
    monkeypatch.setattr(csv_import, "default_workers", lambda rows: asked.append(rows) or 0)
    rows = [[f"r{i}", 9, T, "", "", ""] for i in range(3000)]
    import_file(sqlite_store, write_rows(tmp_path, rows), ImportOptions(
        score="score", time="time", id_column="id"))
    assert len(asked) == 1 and 2400 <= asked[0] <= 3600


def test_a_refused_file_writes_nothing_on_either_store(store: Store, tmp_path: Path):
    """On PostgreSQL as on SQLite: the batches written before the refusal are rolled back."""
    store.upsert_responses([make_record(1, 7, comment="kept")])
    before = store.list_responses()
    good = [[f"g{i}", 9, T, f"c{i}", "", ""] for i in range(BATCH_SIZE + 10)]
    path = write_rows(tmp_path, good + [["b", "x", T, "", "", ""]] * 2)
    with pytest.raises(ImportAborted):
        import_file(store, path, basic_options(id_column="id", max_errors=1))
    assert store.list_responses() == before and store.count_responses() == 1
