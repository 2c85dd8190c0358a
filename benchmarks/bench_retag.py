"""``nps-tv topics retag`` on 100,000 stored responses, and what the wall feels meanwhile.

The retag runs as its own process (as an operator would start it), after the taxonomy
changed so that about half the rows get new topics. This process meanwhile ingests one
response and runs one poll every 100 ms, as a server would, and reports their latencies
during the retag next to the same measurement with no retag running.

    python benchmarks/bench_retag.py                      # 100k rows on SQLite
    python benchmarks/bench_retag.py --rows 20000 --batch 1000
    python benchmarks/bench_retag.py --postgres postgresql+psycopg://postgres@127.0.0.1/bench

Prints rows/s of the retag and p50/p95/max of ingest and poll, idle and during the retag.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from app.config import DEFAULT_DATA_DIR, Settings  # noqa: E402
from app.poller import Poller  # noqa: E402
from app.store import ResponseRecord, open_store  # noqa: E402

COMMENTS = ("Too expensive for what it does", "Support was quick and kind",
            "The dashboard is slow on Mondays", "Lovely people, great product",
            "Invoices are confusing", None, None)


def new_taxonomy(path: Path) -> Path:
    """The shipped taxonomy with "people" and "kind" now meaning Support, "slow" nothing."""
    data = json.loads((DEFAULT_DATA_DIR / "topics.json").read_text())
    for topic in data["topics"]:
        if topic["name"] == "Support":
            topic["keywords"] += ["people", "kind"]
        if topic["name"] == "Performance":
            topic["keywords"] = [k for k in topic["keywords"] if not k.startswith("slow")]
    out = path / "topics-new.json"
    out.write_text(json.dumps(data))
    return out


def seed(settings: Settings, rows: int) -> None:
    store = open_store(settings)
    now = datetime.now(UTC)
    started = time.perf_counter()
    store.upsert_many([ResponseRecord(source="bench", external_id=str(i), score=i % 11,
                                      created_at=now - timedelta(minutes=i % 40000),
                                      comment=COMMENTS[i % len(COMMENTS)],
                                      segments={"product": ("Ledger", "Pulse")[i % 2]})
                       for i in range(start, min(rows, start + 5000))]
                      for start in range(0, rows, 5000))
    print(f"seeded {rows} rows in {time.perf_counter() - started:.1f} s", flush=True)
    store.dispose()


def measure(settings: Settings, until, label: str) -> None:
    """Ingest one response and poll once every 100 ms until ``until()``; print latencies."""
    store = open_store(settings)
    poller = Poller(store, settings, ())
    poller.poll()  # the first (full) read is not what a running server pays
    ingest, polls, changed, n = [], [], 0, 0
    while not until():
        n += 1
        started = time.perf_counter()
        store.upsert_responses([ResponseRecord(source="live", external_id=f"{label}-{n}",
                                               score=9, comment="Support was quick",
                                               created_at=None, segments={})])
        ingest.append(time.perf_counter() - started)
        started = time.perf_counter()
        before = poller.snapshot.version
        poller.poll()
        polls.append(time.perf_counter() - started)
        changed += poller.snapshot.version != before
        time.sleep(0.1)
    store.dispose()
    print(f"{label:>14}: {n} ingests  p50 {ms(ingest, 50)}  p95 {ms(ingest, 95)}  "
          f"max {max(ingest) * 1000:.1f} ms | polls p50 {ms(polls, 50)}  p95 {ms(polls, 95)}  "
          f"max {max(polls) * 1000:.1f} ms", flush=True)


def ms(values: list[float], pct: int) -> str:
    if len(values) < 2:
        return f"{values[0] * 1000:.1f} ms" if values else "-"
    return f"{statistics.quantiles(values, n=100)[pct - 1] * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--postgres", help="a PostgreSQL URL (emptied!) instead of SQLite")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-retag-"))
    settings = Settings(data_dir=str(folder), topics_file=str(DEFAULT_DATA_DIR / "topics.json"),
                        database_url=args.postgres or "", poll_overlap_seconds=2.0)
    if args.postgres:
        store = open_store(settings)
        with store.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        store.dispose()
    seed(settings, args.rows)
    idle_until = time.monotonic() + 5
    measure(settings, lambda: time.monotonic() > idle_until, "no retag")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NPS_TV_DATA_DIR": str(folder),
           "NPS_TV_TOPICS_FILE": str(new_taxonomy(folder)),
           "NPS_TV_DATABASE_URL": settings.resolved_database_url}
    started = time.perf_counter()
    retag = subprocess.Popen([sys.executable, "-m", "app", "topics", "retag", "--batch",
                              str(args.batch), "--no-progress"], env=env, cwd=ROOT, text=True,
                             stdout=subprocess.PIPE)
    measure(settings, lambda: retag.poll() is not None, "during retag")
    elapsed = time.perf_counter() - started
    print(retag.stdout.read().strip())
    print(f"retag: {args.rows} rows in {elapsed:.1f} s = {args.rows / elapsed:,.0f} rows/s "
          f"(batch {args.batch}, {'PostgreSQL' if args.postgres else 'SQLite'}; includes the "
          f"process start)")


if __name__ == "__main__":
    main()
