"""Bulk CSV import throughput: write a synthetic export, import it into a fresh SQLite store.

Budget (DESIGN.md): at least 5,000 rows/s. Run: ``python benchmarks/bench_import.py [--rows N]``.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.ingest.csv_import import ImportOptions, import_file  # noqa: E402
from app.store import Store  # noqa: E402

BUDGET_ROWS_PER_SECOND = 5_000
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


def run_benchmark(rows: int, id_column: bool = False) -> float:
    """Import a fresh synthetic file into a fresh store; return rows per second."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "responses.csv"
        write_csv(path, rows)
        store = Store(f"sqlite:///{folder}/bench.db")
        store.upgrade()
        options = ImportOptions(score="score", time="submitted", comments=("comment",),
                                segments=("plan", "region", "product"),
                                id_column="id" if id_column else None)
        report = import_file(store, path, options, progress=False)
        stored = store.count_responses()
        store.dispose()
    print(f"{report.rows_read:,} rows read, {report.imported:,} imported, "
          f"{report.skipped_blank:,} blank, {stored:,} stored in {report.seconds:.2f} s: "
          f"{report.rows_per_second:,.0f} rows/s "
          f"({'id column' if id_column else 'row hash'} keys)")
    return report.rows_per_second


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and report whether it meets the budget."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000, help="rows to generate")
    parser.add_argument("--id-column", action="store_true",
                        help="key rows by an id column instead of the row hash")
    args = parser.parse_args(argv)
    rate = run_benchmark(args.rows, args.id_column)
    verdict = "OK" if rate >= BUDGET_ROWS_PER_SECOND else "OVER BUDGET"
    print(f"budget >= {BUDGET_ROWS_PER_SECOND:,} rows/s: {verdict}")
    return 0 if rate >= BUDGET_ROWS_PER_SECOND else 1


if __name__ == "__main__":
    raise SystemExit(main())
