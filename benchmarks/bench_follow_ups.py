"""The follow-up counts at scale: the wall's line ("5 detractors in the last 7 days, 4
contacted", ``FollowUps.progress``) for 7 days, 30 days and all time, over every response and
within one product, and the poller's check for status changes (``FollowUps.mark``, once per
poll), on a store of 1,000,000 responses (365 days, 40% with a comment) with 2,000 statuses
set. On PostgreSQL the plan of each count is printed too (its scan of ``responses``): an
index-only scan of migration 0008's partial index of candidates.

The line is counted once per snapshot version and screen (when its parts are built, in the
poll job for recently active screens), not per request; the mark runs in every poll.

    python benchmarks/bench_follow_ups.py [--size 1000000]
    python benchmarks/bench_follow_ups.py --postgres postgresql+psycopg://.../bench
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_export import prepare  # noqa: E402

STATUSES = 2_000


def timed(call, repeats: int = 11) -> tuple[float, float, object]:
    """(median ms, max ms, the last result) of ``repeats`` calls."""
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = call()
        times.append(1000 * (time.perf_counter() - started))
    return statistics.median(times), max(times), result


def set_statuses(book) -> None:
    """Contact or resolve the newest ``STATUSES`` detractors with a comment (as admins do)."""
    from app.store.follow_ups import FollowUpFilter

    rows = book.list(FollowUpFilter(), STATUSES)
    for i, row in enumerate(rows):
        book.set(row["id"], ("contacted", "resolved")[i % 2], None, "bench")


def measure(store, label: str) -> None:
    from app.store.follow_ups import FollowUpFilter, FollowUps

    book = FollowUps(store)
    now = datetime.now(UTC)
    for days in (7, 30, None):
        start = None if days is None else now - timedelta(days=days)
        for segments in (None, {"product": ("Ledger",)}):
            wanted = FollowUpFilter(start, None, segments)
            median, worst, (total, done) = timed(lambda w=wanted: book.progress(w))
            where = "all time" if days is None else f"{days:>3}d"
            scope = " Ledger" if segments else " every"
            print(f"{label}: progress {where}{scope:>7}: {median:7.1f} ms median "
                  f"({worst:.1f} max) -> {total:,} detractors, {done:,} contacted")
    median, worst, mark = timed(book.mark)
    print(f"{label}: mark (each poll): {median:.2f} ms median ({worst:.2f} max) {mark}")


def show_plans(store) -> None:
    """How PostgreSQL reads ``responses`` for the line's count of candidates per window."""
    from sqlalchemy import func, select, text

    from app.store.follow_ups import RESPONSES, FollowUpFilter, FollowUps

    now = datetime.now(UTC)
    for days in (7, 30, None):
        start = None if days is None else now - timedelta(days=days)
        conditions = FollowUps(store)._conditions(FollowUpFilter(start))
        stmt = select(func.count()).select_from(RESPONSES).where(*conditions)
        sql = stmt.compile(store.engine, compile_kwargs={"literal_binds": True})
        with store.engine.connect() as conn:
            plan = [r[0] for r in conn.execute(text(f"EXPLAIN {sql}"))]
        scans = [line.strip().lstrip("-> ") for line in plan if "on responses" in line]
        print(f"plan {days or 'all'}: {'; '.join(scans)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--postgres", help="a PostgreSQL URL (emptied!) instead of SQLite")
    args = parser.parse_args()
    from sqlalchemy import text

    from app.store import Store
    from app.store.follow_ups import FollowUps

    with tempfile.TemporaryDirectory() as tmp:
        url = prepare(args.postgres, args.size, Path(tmp))
        store = Store(url)
        store.upgrade()
        with store.engine.begin() as conn:
            conn.execute(text("DELETE FROM follow_ups"))
        set_statuses(FollowUps(store))
        print(f"{args.size:,} responses on {store.dialect}, {STATUSES:,} statuses set")
        if store.dialect == "postgresql":
            # As autovacuum leaves a live table: the visibility map set, statistics fresh.
            with store.engine.connect().execution_options(
                    isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE responses"))
            show_plans(store)
        measure(store, store.dialect)
        store.dispose()


if __name__ == "__main__":
    main()
