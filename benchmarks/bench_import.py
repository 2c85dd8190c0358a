"""Bulk CSV import throughput into a fresh SQLite store, tagged as the app tags.

    python benchmarks/bench_import.py [--rows N]      # a synthetic export (short comments)
    python benchmarks/bench_import.py --real           # the R Community Surveys (long comments)
    python benchmarks/bench_import.py --no-tagger      # the same without topics and tone
    python benchmarks/bench_import.py --real --workers 0   # tagged in the import's process only

The store is opened as ``nps-tv import`` opens it (``open_store``: the shipped topic model, the
tone of each mention, the write gate), so the figure is what a user gets. ``--no-tagger``
shows what the import itself costs. ``--workers N`` sets the tagging processes (default: as
``nps-tv import`` chooses, app/ingest/tag_pool.py). Budget (DESIGN.md): at least 20,000 rows/s.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import tempfile
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.config import DEFAULT_DATA_DIR, Settings  # noqa: E402
from app.ingest.csv_import import ImportOptions, import_file  # noqa: E402
from app.store import Store, open_store  # noqa: E402

BUDGET_ROWS_PER_SECOND = 20_000
REAL = Path(__file__).resolve().parents[1] / "tests" / "data" / "real"
COMMENTS = (
    "Great support, they answered within minutes.",
    "Too expensive for what it does.",
    "The app crashes when I upload a \"large\" file,\nplease fix.",
    "Facturación confusa, pero el producto es bueno.",
    "",
)
PLANS = ("free", "team", "enterprise")
REGIONS = ("EMEA", "AMER", "APAC")
PRODUCTS = ("web", "ios", "android", "api")


def write_csv(path: Path, rows: int, seed: int = 7) -> None:
    """Write ``rows`` synthetic survey answers: score, ISO time, comment and three segments."""
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "score", "submitted", "comment", "plan", "region", "product"])
        for i in range(rows):
            moment = start + timedelta(seconds=rng.randrange(365 * 86_400))
            writer.writerow([
                f"r{i}", rng.choice((10, 10, 9, 9, 8, 7, 6, 3, 0, "NA")),
                moment.isoformat().replace("+00:00", "Z"), rng.choice(COMMENTS),
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


def import_once(store: Store, path: Path, options: ImportOptions, label: str,
                workers: int | None = None) -> float:
    """Import ``path``; print and return rows per second."""
    options = replace(options, workers=workers)
    report = import_file(store, path, options, progress=False)
    print(f"{label}: {report.rows_read:,} rows read, {report.imported:,} imported, "
          f"{report.skipped_blank:,} blank in {report.seconds:.2f} s: "
          f"{report.rows_per_second:,.0f} rows/s")
    return report.rows_per_second


def run_benchmark(rows: int, id_column: bool = False, tagger: bool = True,
                  workers: int | None = None) -> float:
    """Import a fresh synthetic file into a fresh store; return rows per second."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "responses.csv"
        write_csv(path, rows)
        store = fresh_store(folder, tagger)
        options = ImportOptions(score="score", time="submitted", comments=("comment",),
                                segments=("plan", "region", "product"),
                                id_column="id" if id_column else None)
        keys = "id column" if id_column else "row hash"
        rate = import_once(store, path, options, f"synthetic, {keys} keys, "
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


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and report whether it meets the budget."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000, help="rows to generate")
    parser.add_argument("--id-column", action="store_true",
                        help="key rows by an id column instead of the row hash")
    parser.add_argument("--real", action="store_true",
                        help="import the R Community Surveys in tests/data/real instead")
    parser.add_argument("--no-tagger", action="store_true",
                        help="store without topics and tone (what the import itself costs)")
    parser.add_argument("--workers", type=int, default=None,
                        help="tagging processes (default: as nps-tv import chooses)")
    args = parser.parse_args(argv)
    tagger = not args.no_tagger
    rate = (run_real(tagger, args.workers) if args.real
            else run_benchmark(args.rows, args.id_column, tagger, args.workers))
    verdict = "OK" if rate >= BUDGET_ROWS_PER_SECOND else "OVER BUDGET"
    print(f"budget >= {BUDGET_ROWS_PER_SECOND:,} rows/s: {verdict}")
    return 0 if rate >= BUDGET_ROWS_PER_SECOND else 1


if __name__ == "__main__":
    raise SystemExit(main())
