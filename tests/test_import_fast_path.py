"""The import's fast path gives every row exactly the topics and tones the per-row path gives.

On the labelled topic corpus (tests/data/topics/corpus.jsonl) and the R Community Surveys:
an import tagged by worker processes (app/ingest/tag_pool.py) stores the same topic-set key
for every row as one tagged row by row in its own process; and each exact speed-up under it
(the phrase scan and mask check in app/tagging/rules.py, fold_text's non-ASCII path,
app/tone_vader.py) answers as the plain version it replaces, on the same comments.
"""

from __future__ import annotations

import csv
import json
import random
import unicodedata
from dataclasses import replace
from functools import cache
from pathlib import Path

import pytest
from sqlalchemy import text
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from app.ingest import tag_pool
from app.ingest.csv_import import COMMENT_JOINER, ImportOptions, ImportWriteFailed, import_file
from app.store import Store, open_store
from app.tagging.rules import MASKS, Rules, _is_single_branch
from app.tagging.text import normalise
from app.tone import DOMAIN_LEXICON, split_clauses
from app.tone_vader import FastAnalyzer
from app.topics import fold_text
from tests.conftest import make_record, real_data
from tests.test_ingest_csv import BATCH_SIZE, basic_options, big_export, fail_inserts_at

CORPUS = Path(__file__).resolve().parent / "data" / "topics" / "corpus.jsonl"
SURVEYS = {
    "r-community-survey-2018.tsv": ImportOptions(
        score="Qrecommend", time="Qtime", comments=("Qlike_best", "Qlike_least"),
        segments=("country=Qcountry",), scale="1-10"),
    "r-community-survey-2019.tsv": ImportOptions(
        score="19", time="1", comments=("23", "24"), segments=("country=46",), scale="1-10"),
}


@cache
def corpus_texts() -> tuple[str, ...]:
    with CORPUS.open(encoding="utf-8") as handle:
        return tuple(json.loads(line)["text"] for line in handle if line.strip())


@cache
def survey_comments() -> tuple[str, ...]:
    """The R surveys' comments as the import joins them (both columns, with the joiner)."""
    found = []
    for name, columns in (("r-community-survey-2018.tsv", ("Qlike_best", "Qlike_least")),
                          ("r-community-survey-2019.tsv", None)):
        with real_data(name).open(encoding="utf-8-sig", newline="") as handle:
            rows = csv.reader(handle, delimiter="\t")
            header = next(rows)
            at = ([header.index(c) for c in columns] if columns else [22, 23])
            for row in rows:
                parts = [row[i].strip() for i in at if i < len(row) and row[i].strip()]
                if parts:
                    found.append(COMMENT_JOINER.join(parts))
    return tuple(found)


def every_text() -> list[str]:
    texts = list(dict.fromkeys(corpus_texts() + survey_comments()))
    return texts + [c for t in texts for c in split_clauses(t)]


# -- the import, tagged by worker processes or row by row ---------------------------------------


def stored_keys(store: Store) -> dict[str, str]:
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT r.external_id, t.key FROM responses r "
                                 "JOIN topic_sets t ON t.id = r.topic_set_id")).all()
    return dict(rows)


def import_all(settings, folder: Path, workers: int, files: dict[Path, ImportOptions],
               monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, str], int]:
    """Keys of every imported row, and how many keys worker processes handed the store."""
    store = open_store(settings, f"sqlite:///{folder / 'store.db'}")
    handed = []
    know = store.know_topic_keys
    monkeypatch.setattr(store, "know_topic_keys",
                        lambda keys, tagger: (handed.append(len(keys)), know(keys, tagger)))
    try:
        for path, options in files.items():
            import_file(store, path, replace(options, workers=workers))
        return stored_keys(store), sum(handed)
    finally:
        store.dispose()


def corpus_export(folder: Path, rows: int | None = None) -> Path:
    path = folder / "corpus.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "score", "time", "comment"])
        for index, comment in enumerate(corpus_texts()[:rows]):
            writer.writerow([f"c{index}", index % 11, "2024-05-01T10:00:00Z", comment])
    return path


def test_workers_store_the_per_row_keys_on_the_corpus_and_the_r_surveys(
        settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    files = {real_data(name): options for name, options in SURVEYS.items()}
    files[corpus_export(tmp_path)] = ImportOptions(score="score", time="time",
                                                   comments=("comment",), id_column="id")
    (tmp_path / "rows").mkdir()
    (tmp_path / "pool").mkdir()
    per_row, handed_none = import_all(settings, tmp_path / "rows", 0, files, monkeypatch)
    pooled, handed = import_all(settings, tmp_path / "pool", 2, files, monkeypatch)
    assert handed_none == 0
    assert handed > 0.9 * len(set(corpus_texts() + survey_comments()))  # the workers tagged
    assert len(per_row) == len(corpus_texts()) + 3018 + 1795
    assert sum(1 for key in per_row.values() if key) > 6000  # most rows have topics
    assert pooled == per_row


def test_a_failing_worker_costs_speed_not_topics(settings, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch):
    name = "r-community-survey-2019.tsv"
    files = {real_data(name): SURVEYS[name]}
    (tmp_path / "rows").mkdir()
    (tmp_path / "broken").mkdir()
    per_row, _ = import_all(settings, tmp_path / "rows", 0, files, monkeypatch)

    def broken(comments):
        if comments:
            raise RuntimeError("a worker died")
        return {}

    monkeypatch.setattr(tag_pool, "_work", broken)  # the forked workers run this one
    pooled, handed = import_all(settings, tmp_path / "broken", 2, files, monkeypatch)
    assert handed == 0
    assert pooled == per_row and len(pooled) == 1795


def test_a_stale_tagger_s_keys_are_not_used(sqlite_store: Store):
    comment = "Too expensive for what it does."
    right = sqlite_store.topic_key_for(comment)
    sqlite_store.know_topic_keys({comment: "Support,,+"}, lambda _text: ())  # another tagger
    assert sqlite_store.topic_key_for(comment) == right
    sqlite_store.know_topic_keys({comment: "Support,,+"}, sqlite_store.tagger)
    assert sqlite_store.topic_key_for(comment) == "Support,,+"
    sqlite_store.know_topic_keys({}, None)
    assert sqlite_store.topic_key_for(comment) == right


def test_default_workers_use_idle_cpus_only(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(tag_pool.os, "sched_getaffinity", lambda _pid: set(range(6)),
                        raising=False)
    monkeypatch.setattr(tag_pool.os, "getloadavg", lambda: (0.2, 0.2, 0.2))
    assert tag_pool.default_workers(tag_pool.MIN_ROWS - 1) == 0
    assert tag_pool.default_workers(tag_pool.MIN_ROWS) == tag_pool.MAX_WORKERS
    monkeypatch.setattr(tag_pool.os, "getloadavg", lambda: (3.5, 3.0, 3.0))
    assert tag_pool.default_workers(100_000) == 2  # six CPUs, three and a half busy
    monkeypatch.setattr(tag_pool.os, "getloadavg", lambda: (8.0, 8.0, 8.0))
    assert tag_pool.default_workers(100_000) == 0
    monkeypatch.setattr(tag_pool.os, "sched_getaffinity", lambda _pid: {0}, raising=False)
    monkeypatch.setattr(tag_pool.os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    assert tag_pool.default_workers(100_000) == 0


# -- the exact speed-ups under it -------------------------------------------------------------


def test_the_phrase_scan_and_mask_check_answer_as_one_search_per_rule():
    rules = Rules()
    assert len(rules.masks) == len(MASKS)
    hits = 0
    for comment in every_text():
        normalised = normalise(comment).text
        found = [topic for topic, pattern in rules.phrases if pattern.search(normalised)]
        assert rules.phrase_topics(normalised) == found, comment
        hits += bool(found)
        masked, names = normalised, []
        for name, pattern, keep in rules.masks:  # one substitution per mask, in order
            if keep is None or not keep.search(masked):
                masked, count = pattern.subn(" ", masked)
                names += [name] * bool(count)
        assert rules.mask(normalised) == (masked, names), comment
    assert hits > 1000


@pytest.mark.parametrize(("pattern", "single"), [
    ("ab|c", False), ("a(b|c)", True), (r"a\|b", True), ("[]|]a", True), ("[^]|]a", True),
    ("[](]x|y", False), (r"[\]|]x", True), ("(?:a|b)|c", False), ("*a", False)])
def test_an_alternation_of_its_own_keeps_a_phrase_whole(pattern: str, single: bool):
    assert _is_single_branch(pattern) is single


def plain_fold(text: str) -> str:
    """fold_text as it was: str.translate, then a join without the combining characters."""
    if text.isascii():
        return text.lower()
    table = str.maketrans({"\u2018": "'", "\u2019": "'", "\u2010": "-", "\u2011": "-",
                           "\u2013": "-", "\u2014": "-"})
    decomposed = unicodedata.normalize("NFKD", text.translate(table).casefold())
    return unicodedata.normalize("NFC", "".join(
        c for c in decomposed if not unicodedata.combining(c)))


def test_fold_text_folds_as_before():
    rng = random.Random(11)
    noise = ["".join(chr(rng.randrange(0x80, 0x3000)) for _ in range(30)) for _ in range(3000)]
    samples = every_text() + noise + ["Facturación ÇA coûte ß ǅ ﬁ \u2019 \u2014 e\u0301"]
    assert sum(not t.isascii() for t in samples) > 5000
    for sample in samples:
        assert fold_text(sample) == plain_fold(sample), sample


def test_the_fast_analyser_scores_as_vader_does():
    plain, fast = SentimentIntensityAnalyzer(), FastAnalyzer()
    for analyser in (plain, fast):
        analyser.lexicon.update(DOMAIN_LEXICON)
    rng = random.Random(5)
    words = " ".join(corpus_texts()).split()
    salad = [" ".join(rng.choice(words) for _ in range(rng.randrange(1, 30)))
             for _ in range(3000)]
    idioms = ["VADER is VERY SMART, uber handsome, and FRIGGIN FUNNY!!!",
              "At least it isn't a horrible book.", "The book was only kind of good.",
              "never so good, without doubt the best 😀", "it is the kiss of death, yeah right"]
    for sample in every_text() + salad + idioms:
        assert fast.polarity_scores(sample) == plain.polarity_scores(sample), sample


def test_no_pool_for_a_store_that_tags_nothing(tmp_path: Path, sqlite_store: Store):
    bare = Store(f"sqlite:///{tmp_path / 'bare.db'}", tagger=None)
    try:
        with tag_pool.TagAhead(bare, 2) as ahead:
            assert ahead.pool is None
        with tag_pool.TagAhead(sqlite_store, 2) as ahead:
            assert ahead.pool is not None
        assert ahead.pool is None  # stopped with the block
    finally:
        bare.dispose()


def test_the_progress_bar_follows_the_file_while_workers_tag(
        sqlite_store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = corpus_export(tmp_path, rows=2100)
    options = ImportOptions(score="score", time="time", comments=("comment",), id_column="id",
                            workers=2)
    report = import_file(sqlite_store, path, options, progress=True)
    err = capsys.readouterr().err
    assert report.imported == 2100
    # One pass reads, checks and writes: the bar follows the bytes read (455k of the file).
    assert "importing" in err and f"/{path.stat().st_size / 1000:.0f}k" in err


def test_a_refused_write_with_workers_leaves_the_store_as_it_was(sqlite_store: Store,
                                                                 tmp_path: Path):
    sqlite_store.upsert_responses([make_record(1, 7, comment="kept")])
    before = stored_keys(sqlite_store)
    fail_inserts_at(sqlite_store, f"r{2 * BATCH_SIZE + 10}")  # in the third batch
    options = replace(basic_options(id_column="id", segments=("country",)), workers=2)
    with pytest.raises(ImportWriteFailed, match="rolled back, nothing imported"):
        import_file(sqlite_store, big_export(tmp_path), options)
    assert stored_keys(sqlite_store) == before and sqlite_store.count_responses() == 1
