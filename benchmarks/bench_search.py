"""The comment explorer and topic drill-down at scale: time of a page of results and of the
count, on stores of 100,000 and 1,000,000 responses (40% with a comment), for a 30-day
window and for all time.

Budget (issue 12): a topic drill-down and a search answer in under 200 ms at 1,000,000.

    python benchmarks/bench_search.py [--sizes 100000 1000000]
    python benchmarks/bench_search.py --sizes 1000000 --postgres postgresql+psycopg://...

With ``--postgres`` the database is seeded by ``pg_seed.py`` (emptied first!) unless it
already holds exactly the size's rows, so a second run measures the same, warm store.
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

from app.store import Store  # noqa: E402
from app.store.search import CommentQuery  # noqa: E402
from benchmarks.bench_poll import seed  # noqa: E402
from benchmarks.pg_seed import seed_postgres  # noqa: E402


def timed(call, repeats: int = 7) -> float:
    """Median milliseconds of ``call()``."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def measure(store: Store) -> dict[str, float]:
    now = datetime.now(UTC)
    month = now - timedelta(days=30)
    cases = {
        "search 'expensive' 30 days": CommentQuery(text="expensive", created_from=month),
        "search 'expensive' all time": CommentQuery(text="expensive"),
        # A word no comment holds: the worst case, every commented row of the span is read.
        "search a missing word, all time": CommentQuery(text="zebra"),
        "search a missing word, 30 days": CommentQuery(text="zebra", created_from=month),
        "search phrase, detractors, 30 days": CommentQuery(text='"support was"',
                                                           category="detractor",
                                                           created_from=month),
        "topic drill-down Pricing 30 days": CommentQuery(topic="Pricing", created_from=month),
        "topic drill-down Pricing all time": CommentQuery(topic="Pricing"),
        "newest comments, page 20": CommentQuery(created_from=month, offset=1000),
        # Within a manager's segment filter, a period's day, and a topic nobody mentions (the
        # worst case of a drill-down: no page fills, every candidate row is looked at).
        "topic drill-down Pricing, EMEA, 30 days": CommentQuery(
            topic="Pricing", created_from=month, segments={"region": ("EMEA",)}),
        "period drill-down, one day": CommentQuery(created_from=now - timedelta(days=3),
                                                   created_to=now - timedelta(days=2)),
        "topic drill-down, unmentioned topic, all time": CommentQuery(topic="Onboarding"),
        "topic drill-down, unmentioned topic, 30 days": CommentQuery(topic="Onboarding",
                                                                    created_from=month),
    }
    out = {}
    for name, query in cases.items():
        out[f"{name}: page"] = timed(lambda q=query: store.search_comments(q))
        out[f"{name}: count"] = timed(lambda q=query: store.count_comments(q))
    return out


def open_seeded(postgres: str | None, size: int, tmp: Path) -> Store:
    """A migrated store holding ``size`` seeded responses (SQLite in ``tmp``, or PostgreSQL,
    seeded again only when its count differs)."""
    if postgres:
        store = Store(postgres)
        store.upgrade()
        if store.count_responses() != size:
            seed_postgres(postgres, size)
        return store
    path = tmp / f"search-{size}.db"
    seed(path, size)
    store = Store(f"sqlite:///{path}")
    store.upgrade()
    return store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--postgres", help="a PostgreSQL URL (emptied!) instead of SQLite")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            store = open_seeded(args.postgres, size, Path(tmp))
            results[size] = measure(store)
            store.dispose()
            for name, ms in results[size].items():
                print(f"{size:>9,} stored  {name:<45} {ms:8.1f} ms")
    if len(results) >= 2:
        small, large = min(results), max(results)
        worst = max(results[large].values())
        print(f"slowest at {large:,}: {worst:.1f} ms; ratios {large:,} / {small:,}: "
              + ", ".join(f"{results[large][k] / results[small][k]:.1f}"
                          for k in results[large] if k.endswith("page")))


if __name__ == "__main__":
    main()
