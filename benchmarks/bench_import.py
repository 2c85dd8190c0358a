"""Bulk CSV import throughput into a fresh SQLite store, tagged as the app tags.

    python benchmarks/bench_import.py                  # everything below, tagged and not
    python benchmarks/bench_import.py --rows N         # one synthetic export (real comments)
    python benchmarks/bench_import.py --real           # the R Community Surveys (long comments)
    python benchmarks/bench_import.py --no-tagger      # the same without topics and tone
    python benchmarks/bench_import.py --real --workers 0   # tagged in the import's process only

The synthetic export has two comment columns filled from the labelled topic corpus
(tests/data/topics/corpus.jsonl, real comments): 40% of rows answer the first, half of those
the second too, so most commented rows are distinct, as in a real export. ``--sizes`` imports
20,000 and 200,000 such rows and prints the ratio of their rates (1.0: the rate does not fall
with size). Every line gives wall-clock rows/s, and the CPU the import's process (and its
tagging processes) spent per row, with the load average: the shared test machine is rarely
idle, and CPU per row holds under load where rows/s does not.

The store is opened as ``nps-tv import`` opens it (``open_store``: the shipped topic model, the
tone of each mention, the write gate), so the figure is what a user gets. ``--no-tagger``
shows what the import itself costs. ``--workers N`` sets the tagging processes (default: as
``nps-tv import`` chooses, app/ingest/tag_pool.py). Budget (DESIGN.md): at least 20,000 rows/s.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.config import DEFAULT_DATA_DIR, Settings  # noqa: E402
from app.ingest.csv_import import ImportOptions, import_file  # noqa: E402
from app.store import Store, open_store  # noqa: E402

BUDGET_ROWS_PER_SECOND = 20_000
REAL = Path(__file__).resolve().parents[1] / "tests" / "data" / "real"
CORPUS = REAL.parent / "topics" / "corpus.jsonl"
SIZES = (20_000, 200_000)
PLANS = ("free", "team", "enterprise")
REGIONS = ("EMEA", "AMER", "APAC")
PRODUCTS = ("web", "ios", "android", "api")


def corpus_comments() -> list[str]:
    """The labelled topic corpus's comments (app reviews, support tickets, survey answers)."""
    with CORPUS.open(encoding="utf-8") as handle:
        return [json.loads(line)["text"] for line in handle if line.strip()]


def write_csv(path: Path, rows: int, seed: int = 7) -> None:
    """Write ``rows`` synthetic survey answers: score, ISO time, two comment columns (real
    comments; 40% of rows answer the first, half of those the second) and three segments."""
    rng = random.Random(seed)
    pool = corpus_comments()
    start = datetime(2024, 1, 1, tzinfo=UTC)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "score", "submitted", "best", "least", "plan", "region",
                         "product"])
        for i in range(rows):
            moment = start + timedelta(seconds=rng.randrange(365 * 86_400))
            best = rng.choice(pool) if rng.random() < 0.4 else ""
            least = rng.choice(pool) if best and rng.random() < 0.5 else ""
            writer.writerow([
                f"r{i}", rng.choice((10, 10, 9, 9, 8, 7, 6, 3, 0, "NA")),
                moment.isoformat().replace("+00:00", "Z"), best, least,
                rng.choice(PLANS), rng.choice(REGIONS), rng.choice(PRODUCTS),
            ])


def fresh_store(folder: str, tagger: bool) -> Store:
    """A fresh SQLite store in ``folder``, opened as the import command opens it."""
    url = f"sqlite:///{folder}/bench.db"
    if not tagger:
        store = Store(url)
        store.upgrade()
        return store
    settings = Settings(data_dir=folder, database_url=url,
                        topics_file=str(DEFAULT_DATA_DIR / "topics.json"))
    return open_store(settings)


def load() -> str:
    return "load " + " ".join(Path("/proc/loadavg").read_text().split()[:3])


def import_once(store: Store, path: Path, options: ImportOptions, label: str,
                workers: int | None = None) -> float:
    """Import ``path``; print rows/s and CPU per row; return rows per second."""
    options = replace(options, workers=workers)
    cpu, children = time.process_time(), resource.getrusage(resource.RUSAGE_CHILDREN)
    report = import_file(store, path, options, progress=False)
    cpu = time.process_time() - cpu
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    helpers = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
    per_row = 1e6 / max(report.rows_read, 1)
    print(f"{label}: {report.rows_read:,} rows read, {report.imported:,} imported, "
          f"{report.skipped_blank:,} blank in {report.seconds:.2f} s: "
          f"{report.rows_per_second:,.0f} rows/s; CPU {cpu * per_row:,.0f} µs/row"
          + (f" + {helpers * per_row:,.0f} µs/row in tagging processes" if helpers else "")
          + f" ({load()})", flush=True)
    return report.rows_per_second


def run_benchmark(rows: int, id_column: bool = False, tagger: bool = True,
                  workers: int | None = None) -> float:
    """Import a fresh synthetic file into a fresh store; return rows per second."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "responses.csv"
        write_csv(path, rows)
        store = fresh_store(folder, tagger)
        options = ImportOptions(score="score", time="submitted", comments=("best", "least"),
                                segments=("plan", "region", "product"),
                                id_column="id" if id_column else None)
        keys = "id column" if id_column else "row hash"
        rate = import_once(store, path, options, f"synthetic {rows:,}, {keys} keys, "
                           f"{'tagged' if tagger else 'no tagger'}", workers)
        store.dispose()
    return rate


def run_real(tagger: bool = True, workers: int | None = None) -> float:
    """Import both R Community Surveys (two long comments a row); return rows per second."""
    rates = []
    with tempfile.TemporaryDirectory() as folder:
        store = fresh_store(folder, tagger)
        for name, options in (
            ("r-community-survey-2018.tsv", ImportOptions(
                score="Qrecommend", time="Qtime", comments=("Qlike_best", "Qlike_least"),
                segments=("country=Qcountry", "industry=Qindustry"), scale="1-10")),
            ("r-community-survey-2019.tsv", ImportOptions(
                score="19", time="1", comments=("23", "24"),
                segments=("country=46", "industry=47"), scale="1-10")),
        ):
            rates.append(import_once(store, REAL / name, options,
                                     f"{name}, {'tagged' if tagger else 'no tagger'}", workers))
        store.dispose()
    return min(rates)


def run_sizes(tagger: bool, workers: int | None) -> float:
    """Both SIZES; prints the ratio of the large file's rate to the small one's."""
    small, large = (run_benchmark(rows, tagger=tagger, workers=workers) for rows in SIZES)
    print(f"  rate at {SIZES[1]:,} rows / rate at {SIZES[0]:,} rows: {large / small:.2f}")
    return min(small, large)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and report whether it meets the budget."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, help="one synthetic file of this many rows")
    parser.add_argument("--sizes", action="store_true",
                        help=f"synthetic files of {SIZES[0]:,} and {SIZES[1]:,} rows, and the "
                             "ratio of their rates")
    parser.add_argument("--id-column", action="store_true",
                        help="key rows by an id column instead of the row hash")
    parser.add_argument("--real", action="store_true",
                        help="import the R Community Surveys in tests/data/real")
    parser.add_argument("--no-tagger", action="store_true",
                        help="store without topics and tone (what the import itself costs)")
    parser.add_argument("--workers", type=int, default=None,
                        help="tagging processes (default: as nps-tv import chooses)")
    args = parser.parse_args(argv)
    chosen = args.real or args.sizes or args.rows is not None
    taggers = [not args.no_tagger] if chosen or args.no_tagger else [False, True]
    rates = []
    for tagger in taggers:
        if args.real or not chosen:
            rates.append(run_real(tagger, args.workers))
        if args.sizes or not chosen:
            rates.append(run_sizes(tagger, args.workers))
        if args.rows is not None:
            rates.append(run_benchmark(args.rows, args.id_column, tagger, args.workers))
    rate = min(rates)
    verdict = "OK" if rate >= BUDGET_ROWS_PER_SECOND else "OVER BUDGET"
    print(f"slowest {rate:,.0f} rows/s; budget >= {BUDGET_ROWS_PER_SECOND:,} rows/s: {verdict}")
    return 0 if rate >= BUDGET_ROWS_PER_SECOND else 1


if __name__ == "__main__":
    raise SystemExit(main())
