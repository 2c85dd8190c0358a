"""What reading the tone of every topic mention costs at write time (app/tone.py).

    python benchmarks/bench_tone.py              # the demo corpus, 20,000 rows stored
    python benchmarks/bench_tone.py --rows 50000

Prints the cost per comment of the topic-set key with tones against the topics alone (the
key before tones), and rows/s of ``Store.upsert_many`` (batches of 500, one transaction, as a
CSV import writes) into a fresh SQLite store with each. The poll's cost is measured by
``bench_poll.py``, whose store holds keys with tones.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import tone  # noqa: E402
from app.config import DEFAULT_DATA_DIR  # noqa: E402
from app.demo.corpus import COMMENTS  # noqa: E402
from app.store import ResponseRecord, Store  # noqa: E402
from app.store import corrections as store_corrections  # noqa: E402
from app.topics import load_taxonomy, tag_topics  # noqa: E402

TEXTS = tuple(c.text for c in COMMENTS)


def untoned_key(comment, topics, tag):
    """The key as stored before tones."""
    return ",".join(topics)


def per_comment_us(key, tag, repeats: int = 5) -> float:
    """Median microseconds to tag a comment and build its key."""
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for text in TEXTS:
            key(text, tag(text), tag)
        runs.append((time.perf_counter() - t0) / len(TEXTS) * 1e6)
    return statistics.median(runs)


def ingest_rows_per_second(rows: int, tag, workdir: Path, name: str) -> float:
    """Rows/s of upsert_many into a fresh SQLite store (every row with a comment)."""
    store = Store(f"sqlite:///{workdir / name}.db", tagger=tag)
    store.upgrade()
    now = datetime.now(UTC)
    records = [ResponseRecord("bench", str(i), i % 11, now - timedelta(minutes=i),
                              TEXTS[i % len(TEXTS)], {"product": "Ledger"})
               for i in range(rows)]
    batches = [records[i:i + 500] for i in range(0, rows, 500)]
    t0 = time.perf_counter()
    store.upsert_many(batches)
    elapsed = time.perf_counter() - t0
    store.dispose()
    return rows / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    args = parser.parse_args()
    tag = partial(tag_topics, taxonomy=load_taxonomy(DEFAULT_DATA_DIR / "topics.json"))
    t0 = time.perf_counter()
    tone.analyser()
    print(f"VADER analyser built once per process: {1000 * (time.perf_counter() - t0):.0f} ms")
    before = per_comment_us(untoned_key, tag)
    after = per_comment_us(tone.topic_key, tag)
    print(f"per comment ({len(TEXTS)} demo comments): topics only {before:.1f} us, "
          f"topics with tone {after:.1f} us (+{after - before:.1f} us)")
    with tempfile.TemporaryDirectory() as tmp:
        with mock.patch.object(store_corrections, "topic_key", untoned_key):
            old = ingest_rows_per_second(args.rows, tag, Path(tmp), "before")
        new = ingest_rows_per_second(args.rows, tag, Path(tmp), "after")
    print(f"ingest of {args.rows:,} commented rows (upsert_many, batches of 500): "
          f"{old:,.0f} rows/s without tone, {new:,.0f} rows/s with tone "
          f"({100 * (new / old - 1):+.0f}%)")


if __name__ == "__main__":
    main()
