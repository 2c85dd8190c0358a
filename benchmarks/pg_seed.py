"""Seed a PostgreSQL store for the benchmarks: the same rows as ``bench_poll.seed`` writes to
SQLite (same products, regions, plans, topic sets, comments and random stream), written with
COPY so a million rows take about a minute. The database is emptied first.

    python benchmarks/pg_seed.py postgresql+psycopg://postgres@127.0.0.1/bench 1000000
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.store import Store  # noqa: E402
from benchmarks.bench_poll import PLANS, PRODUCTS, REGIONS, TOPICS  # noqa: E402

COMMENTS = (None, None, None, "Too expensive for what it does", "Support was quick")
TABLES = ("follow_ups", "topic_corrections", "responses", "segment_sets", "topic_sets",
          "events")


def seed_postgres(url: str, rows: int, days: int = 365) -> datetime:
    """Empty ``url``'s tables and write ``rows`` responses (one updated_at, as a bulk import
    leaves them); returns that time. Then ANALYZE, so the planner knows the table."""
    store = Store(url)
    store.upgrade()
    imported_at = datetime.now(UTC)
    now = imported_at.replace(tzinfo=None)
    rng = random.Random(1)
    segs = [json.dumps({"plan": pl, "product": p, "region": r}, sort_keys=True)
            for p in PRODUCTS for r in REGIONS for pl in PLANS]
    raw = store.engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
        cur.executemany("INSERT INTO segment_sets (key) VALUES (%s)", [(k,) for k in segs])
        cur.executemany("INSERT INTO topic_sets (key) VALUES (%s)",
                        [(k,) for k in sorted(set(TOPICS))])
        cur.execute("SELECT id FROM segment_sets ORDER BY id")
        seg_ids = [i for (i,) in cur.fetchall()]
        cur.execute("SELECT id FROM topic_sets ORDER BY id")
        topic_ids = [i for (i,) in cur.fetchall()]
        with cur.copy("COPY responses (source, external_id, score, comment, created_at,"
                      " updated_at, segment_set_id, topic_set_id, excluded) FROM STDIN") as copy:
            for i in range(rows):
                created = now - timedelta(seconds=rng.randrange(days * 86400))
                copy.write_row(("bench", str(i), rng.randint(0, 10), rng.choice(COMMENTS),
                                created, now, rng.choice(seg_ids), rng.choice(topic_ids),
                                False))
        raw.commit()
        raw.driver_connection.autocommit = True
        cur.execute("VACUUM ANALYZE responses")
    finally:
        raw.close()
        store.dispose()
    return imported_at


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("rows", type=int)
    args = parser.parse_args()
    started = time.perf_counter()
    seed_postgres(args.url, args.rows)
    print(f"seeded {args.rows:,} rows in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
