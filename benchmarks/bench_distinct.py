"""What a distinct screen costs a worker, in CPU time, against screens that share URLs (issue 13,
item 3). In one process, so the figures hold on a busy machine: CPU time, not wall time.

    python benchmarks/bench_distinct.py                    # 100 screens: 100 vs 6 filters
    python benchmarks/bench_distinct.py --screens 200 --changes 20
    python benchmarks/bench_distinct.py --postgres postgresql+psycopg://postgres@127.0.0.1/bench

1. The demo's history in a fresh SQLite file (or the PostgreSQL database given, emptied
   first), one app (``create_app``) on it, first poll; then (unless ``--fresh-import``) a
   second one once the poll overlap has passed, so each measured poll reads the new response
   only, not the whole history written seconds before.
2. N wall screens, each asking as the browser does, with the state its previous answer left:
   by default through the server's own answer to the wall's poll (``app.poll_bytes``, the
   bytes ``app.poll_answer`` sends and the tick stream pushes, which the poll job builds
   ahead for active screens: ``poll_answer.warm``), or with ``--path dash`` through the
   Dash callback's step (``app.live.compute_update``, then the answer encoded as Dash
   encodes it: what a manager's page and a poll the fast path declines cost); either each
   with its own data filter (``bench_viewers.distinct_queries``) or six shared URLs.
3. ``--changes`` times: one response is written (random segments), the poll job runs (it
   publishes the snapshot and builds the parts of recently active screens), then every
   screen asks once.

Printed per case: CPU ms per change for the poll job (poll + building ahead) and for the
screens' answers, CPU ms per screen answer, parts built, views computed and views carried over
from the previous snapshot (``app.view_cache``), and KB sent per screen per change; then the
ratio of the two cases' CPU per change (poll job + answers).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dash import no_update  # noqa: E402
from dash._utils import to_json  # noqa: E402

from app import poll_bytes, tv  # noqa: E402
from app.config import Settings  # noqa: E402
from app.demo.history import PLANS, PRODUCTS, REGIONS, build_demo_history  # noqa: E402
from app.live import compute_update  # noqa: E402
from app.live_status import build_status  # noqa: E402
from app.screen import parse_screen  # noqa: E402
from app.services import get_services  # noqa: E402
from app.store import ResponseRecord, open_store  # noqa: E402
from app.web import create_app  # noqa: E402
from benchmarks.bench_viewers import distinct_queries, prepare_store  # noqa: E402

SHARED = [{"window": "30d"}, {"window": "7d"}, {"window": "90d"}, {"window": "30d",
          "region": "EMEA"}, {"window": "30d", "product": "Pulse"}, {"window": "all"}]


def run_case(label: str, queries: list[dict], screens: int, changes: int, days: int,
             postgres: str | None = None, stored_long_ago: bool = True,
             path: str = "fast") -> dict:
    with tempfile.TemporaryDirectory(prefix="nps-bench-distinct-") as tmp:
        url = postgres or f"sqlite:///{tmp}/bench.db"
        settings = Settings.from_env().replace(database_url=url, data_dir=tmp,
                                               build_id="bench", access="open")
        if postgres:
            prepare_store(url, days)  # emptied, then the demo's history
        else:
            store = open_store(settings, url)
            build_demo_history(store, days=days, seed=7)
            store.dispose()
        services = get_services(create_app(settings))
        poller = services.poller
        poller.poll()
        if stored_long_ago:
            # The history was just written: until the poll overlap has passed, every poll
            # reads all of it again (``Poller._poll_start``), 5,000 rows, 50-90 ms of the poll
            # job in either case, which a server polling for minutes does not pay.
            time.sleep(settings.poll_overlap_seconds + 0.5)
            poller.poll()
        configs = [parse_screen(queries[i % len(queries)], settings) for i in range(screens)]
        names = [tv.PAGE.part_names(c) for c in configs]
        states: list = [None] * screens

        def ask_all() -> tuple[float, int]:
            started, sent = time.process_time(), 0
            for i, (config, wanted) in enumerate(zip(configs, names, strict=True)):
                if path == "fast":
                    start, own, state = poll_bytes.answer_pieces(
                        services, tv.PAGE, config, wanted, states[i], build_status(services))
                    if state is not None:
                        states[i] = state
                    sent += len(start) + len(own)
                    continue
                update = compute_update(services, config, states[i], wanted)
                # What Dash sends: the outputs that are not no_update.
                body = {k: v for k, v in update.parts.items() if v is not no_update}
                if isinstance(update.state, dict):
                    states[i] = update.state
                sent += len(to_json({"response": body, "status": update.status}))
            return time.process_time() - started, sent

        ask_all()  # every screen's first answer: not measured
        rng = random.Random(5)
        poll_cpu = ask_cpu = 0.0
        sent = 0
        builds = services.parts.builds
        views = poller.views
        built, carried = getattr(views, "built", 0), getattr(views, "carried", 0)
        for n in range(changes):
            services.store.upsert_responses([ResponseRecord(
                source="bench", external_id=f"bench-distinct-{n}",
                score=rng.choice([0, 5, 7, 9, 10]),
                created_at=datetime.now(UTC), comment=rng.choice(["Fast support", ""]),
                segments={"product": rng.choice(PRODUCTS), "region": rng.choice(REGIONS),
                          "plan": rng.choice(PLANS)})])
            started = time.process_time()
            poller.poll()
            poll_cpu += time.process_time() - started
            cpu, size = ask_all()
            ask_cpu += cpu
            sent += size
        result = {"case": label, "screens": screens, "filters": len(set(map(str, queries))),
                  "poll_ms": 1000 * poll_cpu / changes, "answers_ms": 1000 * ask_cpu / changes,
                  "per_screen_ms": 1000 * ask_cpu / changes / screens,
                  "builds": (services.parts.builds - builds) / changes,
                  "kb_per_screen": sent / changes / screens / 1024,
                  "views": (getattr(views, "built", 0) - built) / changes,
                  "carried": (getattr(views, "carried", 0) - carried) / changes}
        services.store.dispose()
        return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--screens", type=int, default=100)
    parser.add_argument("--changes", type=int, default=10, help="responses written, one by one")
    parser.add_argument("--days", type=int, default=180, help="demo history to store")
    parser.add_argument("--postgres", help="a PostgreSQL URL (emptied!) instead of SQLite")
    parser.add_argument("--path", choices=("fast", "dash"), default="fast",
                        help="the screens' answers: the server's bytes for the wall's poll "
                             "(default) or the Dash callback's step, encoded as Dash does")
    parser.add_argument("--fresh-import", action="store_true",
                        help="measure right after writing the history (every poll then reads "
                             "it again, within the poll overlap), as before this option")
    args = parser.parse_args(argv)
    print(f"{'case':<10} {'screens':>7} {'filters':>7} {'poll CPU ms':>11} "
          f"{'answers CPU ms':>14} {'ms/answer':>9} {'builds':>7} {'views':>6} {'carried':>7} "
          f"{'KB/screen':>9}  (per change)")
    total = {}
    for label, queries in (("distinct", distinct_queries(args.screens)), ("shared", SHARED)):
        r = run_case(label, queries, args.screens, args.changes, args.days, args.postgres,
                     stored_long_ago=not args.fresh_import, path=args.path)
        total[label] = r["poll_ms"] + r["answers_ms"]
        print(f"{r['case']:<10} {r['screens']:>7} {r['filters']:>7} {r['poll_ms']:>11.1f} "
              f"{r['answers_ms']:>14.1f} {r['per_screen_ms']:>9.2f} {r['builds']:>7.1f} "
              f"{r['views']:>6.1f} {r['carried']:>7.1f} {r['kb_per_screen']:>9.1f}", flush=True)
    print(f"distinct / shared, CPU per change (poll job + answers): "
          f"{total['distinct'] / total['shared']:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
