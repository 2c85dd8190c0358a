"""Poll, first-snapshot and viewer-update costs at 10,000 and 1,000,000 stored responses.

The store is seeded as a bulk import that has just finished (every row written now), so the
idle polls once the overlap has passed show what an idle server pays after an import.

    python benchmarks/bench_poll.py            # 10k and 1M (about a minute, mostly seeding)
    python benchmarks/bench_poll.py --sizes 10000 100000

Budgets (DESIGN.md): a poll with <=100 new rows costs <= 20 ms at 1M and <= 1.5x the same
poll at 10k; the first snapshot at 1M <= 2 s; a viewer's update <= 2 ms when nothing
changed and <= 10 ms after a change.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.config import DEFAULT_DATA_DIR, Settings  # noqa: E402
from app.services import get_services  # noqa: E402
from app.store import ResponseRecord, Store  # noqa: E402
from app.web import create_app  # noqa: E402

PRODUCTS, REGIONS, PLANS = ("Ledger", "Pulse", "Atlas", "Relay"), ("NA", "EMEA", "APAC"), (
    "Starter", "Team", "Enterprise")
TOPICS = ("Pricing,,-", "Support,,+", "Performance,,=", "", "", "Pricing,Support,,-+")


def seed(path: Path, rows: int, days: int = 365) -> datetime:
    """Write ``rows`` responses straight through sqlite3 (seeding speed is not measured),
    all stamped with one updated_at, as a bulk import does; returns that time."""
    store = Store(f"sqlite:///{path}")
    store.upgrade()
    store.dispose()
    rng = random.Random(1)
    imported_at = datetime.now(UTC)
    now = imported_at.replace(tzinfo=None)
    stamp = now.isoformat(sep=" ", timespec="microseconds")
    con = sqlite3.connect(path)
    segs = [json.dumps({"plan": pl, "product": p, "region": r}, sort_keys=True)
            for p in PRODUCTS for r in REGIONS for pl in PLANS]
    con.executemany("INSERT INTO segment_sets (key) VALUES (?)", [(k,) for k in segs])
    con.executemany("INSERT INTO topic_sets (key) VALUES (?)", [(k,) for k in set(TOPICS)])
    seg_ids = [i for (i,) in con.execute("SELECT id FROM segment_sets")]
    topic_ids = [i for (i,) in con.execute("SELECT id FROM topic_sets")]
    comments = (None, None, None, "Too expensive for what it does", "Support was quick")
    batch = []
    for i in range(rows):
        created = now - timedelta(seconds=rng.randrange(days * 86400))
        batch.append(("bench", str(i), rng.randint(0, 10), rng.choice(comments),
                      created.isoformat(sep=" ", timespec="microseconds"), stamp,
                      rng.choice(seg_ids), rng.choice(topic_ids), 0))
        if len(batch) == 50_000:
            _insert(con, batch)
            batch = []
    _insert(con, batch)
    con.close()
    return imported_at


def _insert(con: sqlite3.Connection, batch: list[tuple]) -> None:
    con.executemany(
        "INSERT INTO responses (source, external_id, score, comment, created_at, updated_at,"
        " segment_set_id, topic_set_id, excluded) VALUES (?,?,?,?,?,?,?,?,?)", batch)
    con.commit()


def new_records(start: int, count: int) -> list[ResponseRecord]:
    rng = random.Random(start)
    return [ResponseRecord("bench-live", str(start + k), rng.randint(0, 10), datetime.now(UTC),
                           "the new pricing is steep", {"product": rng.choice(PRODUCTS),
                                                        "region": "EMEA", "plan": "Team"})
            for k in range(count)]


def measure(size: int, workdir: Path, repeats: int = 15) -> dict[str, float]:
    path = workdir / f"bench-{size}.db"
    t0 = time.perf_counter()
    imported_at = seed(path, size)
    seeded = time.perf_counter() - t0
    settings = Settings(data_dir=str(workdir), database_url=f"sqlite:///{path}",
                        topics_file=str(DEFAULT_DATA_DIR / "topics.json"))
    dash_app = create_app(settings)
    services = get_services(dash_app)
    poller, store = services.poller, services.store
    t0 = time.perf_counter()
    poller.poll()
    first = time.perf_counter() - t0
    result = {"seed_s": seeded, "first_snapshot_s": first}
    result.update(measure_idle_after_import(poller, settings, imported_at))

    idle, busy = [], []
    for r in range(repeats):
        t0 = time.perf_counter()
        poller.poll()
        idle.append(time.perf_counter() - t0)
        store.upsert_responses(new_records(10_000_000 + r * 100, 100))
        t0 = time.perf_counter()
        changed = poller.poll()
        busy.append(time.perf_counter() - t0)
        assert changed
    result.update({"poll_idle_ms": 1000 * statistics.median(idle),
                   "poll_100_new_ms": 1000 * statistics.median(busy)})
    result.update(measure_viewers(services))
    store.dispose()
    return result


def measure_idle_after_import(poller, settings: Settings, imported_at: datetime,
                              repeats: int = 15) -> dict[str, float]:
    """Rows read and ms per poll of an idle server once poll + overlap seconds have passed
    since a bulk import (the overlap used to follow the import's updated_at for good)."""
    wait = settings.poll_seconds + settings.poll_overlap_seconds
    time.sleep(max(0.0, (imported_at - datetime.now(UTC)).total_seconds() + wait))
    poller.poll()
    rows, times = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        poller.poll()
        times.append(time.perf_counter() - t0)
        rows.append(poller.last_poll_rows)
    return {"idle_after_import_rows": max(rows),
            "idle_after_import_ms": 1000 * statistics.median(times)}


def measure_viewers(services, repeats: int = 30) -> dict[str, float]:
    """Server time of a wall screen's update step, with nothing changed and after a change.

    Once a screen has asked, the poll job builds its parts right after publishing a change
    ("poll_with_prewarm"), so even the first screen to ask afterwards reads the part cache.
    """
    from app import live
    from app.screen import parse_screen
    from app.tv import PAGE

    screen = parse_screen({}, services.settings)
    names = PAGE.part_names(screen)
    state = live.compute_update(services, screen, None, names).state
    unchanged, first_viewer, other_viewers, sent, polls = [], [], [], [], []
    for r in range(repeats):
        for _ in range(20):
            t0 = time.perf_counter()
            update = live.compute_update(services, screen, state, names)
            unchanged.append(time.perf_counter() - t0)
            assert all(v is live.no_update for v in update.parts.values())
        services.store.upsert_responses(new_records(20_000_000 + r * 10, 10))
        t0 = time.perf_counter()
        services.poller.poll()
        polls.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        update = live.compute_update(services, screen, state, names)
        first_viewer.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        live.compute_update(services, screen, state, names)
        other_viewers.append(time.perf_counter() - t0)
        sent.append(sum(v is not live.no_update for v in update.parts.values()))
        state = update.state
    return {"viewer_unchanged_ms": 1000 * statistics.median(unchanged),
            "viewer_after_change_first_ms": 1000 * statistics.median(first_viewer),
            "viewer_after_change_others_ms": 1000 * statistics.median(other_viewers),
            "poll_with_prewarm_ms": 1000 * statistics.median(polls),
            "parts_sent_after_change": statistics.median(sent),
            "parts_total": len(names)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            results[size] = measure(size, Path(tmp))
            print(f"{size:>9,} stored: " + ", ".join(
                f"{k} {v:.3f}" for k, v in results[size].items()), flush=True)
    small, large = min(results), max(results)
    if small != large:
        ratio = results[large]["poll_100_new_ms"] / results[small]["poll_100_new_ms"]
        print(f"poll with 100 new rows, {large:,} vs {small:,} stored: ratio {ratio:.2f} "
              f"(budget <= 1.5; <= 20 ms at 1M: {results[large]['poll_100_new_ms']:.1f} ms)")
        print(f"first snapshot at {large:,}: {results[large]['first_snapshot_s']:.2f} s "
              f"(budget <= 2 s)")
        idle = results[large]["idle_after_import_ms"] / results[small]["idle_after_import_ms"]
        print(f"idle poll after a bulk import, {large:,} vs {small:,} stored: "
              f"{results[small]['idle_after_import_rows']:.0f} and "
              f"{results[large]['idle_after_import_rows']:.0f} rows read at most, "
              f"{results[small]['idle_after_import_ms']:.2f} and "
              f"{results[large]['idle_after_import_ms']:.2f} ms, ratio {idle:.2f} "
              f"(budget: a handful of rows)")
    for size, r in results.items():
        print(f"viewer at {size:,}: unchanged {r['viewer_unchanged_ms']:.3f} ms (budget 2), "
              f"after a change {r['viewer_after_change_first_ms']:.2f} ms for the first screen, "
              f"{r['viewer_after_change_others_ms']:.3f} ms for the others (budget 10); "
              f"poll + prewarm {r['poll_with_prewarm_ms']:.1f} ms; "
              f"{r['parts_sent_after_change']:.0f} of {r['parts_total']} parts sent")


if __name__ == "__main__":
    main()
