"""Server CPU per wall request, through the whole WSGI app (gate, guard, Flask, Dash), in one
process, so the figures hold on a busy machine: CPU time, not wall time (issue 13).

    python benchmarks/bench_requests.py                      # 200 screens, 10 changes
    python benchmarks/bench_requests.py --screens 400 --filters 6

1. The demo's history in a fresh SQLite file, one app (``create_app``) on it, first poll.
2. N wall screens (``--filters`` different URLs among them), each with the state its last
   answer left, as ``benchmarks/bench_viewers.py`` replays them: a tick, and the wall's Dash
   poll when the tick's stamp changed.
3. ``--changes`` times: one response is written, the poll job runs (publish, parts built
   ahead), then every screen ticks (a new stamp) and polls; then every screen ticks and polls
   again with nothing new (the 304 and the "nothing changed" answer).

Printed: CPU ms per change for the poll job, and CPU ms per request by kind (tick after a
change, tick unchanged (304), Dash poll after a change, Dash poll with nothing new), with
bytes per answer. gunicorn's own per-request work (reading and writing the socket) is not in
these figures; ``bench_viewers`` measures the whole server.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from werkzeug.test import EnvironBuilder  # noqa: E402

from app import ask, tv  # noqa: E402
from app.config import Settings  # noqa: E402
from app.demo.history import PLANS, PRODUCTS, REGIONS, build_demo_history  # noqa: E402
from app.services import get_services  # noqa: E402
from app.store import ResponseRecord, open_store  # noqa: E402
from app.web import create_app  # noqa: E402
from benchmarks.bench_viewers import distinct_queries  # noqa: E402

UPDATE_PATH = "/_dash-update-component"


def poll_key(dash_app) -> str:
    """The callback id of the wall's poll."""
    return next(key for key in dash_app.callback_map if f"..{tv.IDS.state}.data.." in key)


def poll_body(dash_app, config: dict, state: dict | None, stamp: str | None, n: int) -> dict:
    """The wall's poll request as the renderer sends it."""
    key = poll_key(dash_app)
    spec = dash_app.callback_map[key]
    outputs = [{"id": o.component_id, "property": o.component_property}
               for o in spec["output"]]
    return {"output": key, "outputs": outputs,
            "inputs": [{"id": tv.IDS.poll, "property": "n_intervals", "value": n},
                       {"id": tv.IDS.ask, "property": "data", "value": stamp}],
            "changedPropIds": [f"{tv.IDS.ask}.data"],
            "state": [{"id": tv.IDS.config, "property": "data", "value": config},
                      {"id": tv.IDS.state, "property": "data", "value": state}]}


class Client:
    """Calls the WSGI app directly: no test client, no sockets."""

    def __init__(self, wsgi):
        self.wsgi = wsgi

    def call(self, method: str, path: str, body: bytes | None = None,
             headers: dict | None = None) -> tuple[int, dict, bytes, float]:
        """(status, headers, body, CPU seconds of the app's work, environ building excluded)."""
        environ = EnvironBuilder(path=path, method=method, headers=headers or {},
                                 content_type="application/json" if body else None,
                                 base_url="http://127.0.0.1:18300").get_environ()
        if body is not None:
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        got = {}

        def start_response(status, response_headers, exc_info=None):
            got["status"], got["headers"] = int(status.split()[0]), dict(response_headers)

        started = time.process_time()
        chunks = self.wsgi(environ, start_response)
        data = b"".join(chunks)
        if hasattr(chunks, "close"):
            chunks.close()
        return got["status"], got["headers"], data, time.process_time() - started


def config_of(services, query: dict) -> dict:
    """The wall's config store for ``query`` (what the page carries)."""
    server = services_app(services)
    with server.test_request_context(f"/tv?{urlencode(query)}"):
        layout = tv.build_layout(query, services)
    found = {}

    def walk(node):
        ident = getattr(node, "id", None)
        if ident in (tv.IDS.config, tv.IDS.state):
            found[ident] = node.data
        for child in getattr(node, "children", None) or []:
            if not isinstance(child, str):
                walk(child)
    walk(layout)
    return found


def services_app(services):
    return services._flask  # set in main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--screens", type=int, default=200)
    parser.add_argument("--filters", type=int, default=1, help="different URLs among them")
    parser.add_argument("--changes", type=int, default=10)
    parser.add_argument("--days", type=int, default=180)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="nps-bench-requests-") as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        settings = Settings.from_env().replace(database_url=url, data_dir=tmp,
                                               build_id="bench", access="open")
        store = open_store(settings, url)
        build_demo_history(store, days=args.days, seed=7)
        store.dispose()
        dash_app = create_app(settings)
        services = get_services(dash_app)
        services._flask = dash_app.server
        services.poller.poll()
        client = Client(dash_app.server.wsgi_app)
        queries = (distinct_queries(args.filters) if args.filters > 1
                   else [{"dwell": "10"}])
        screens = []
        for i in range(args.screens):
            query = queries[i % len(queries)]
            found = config_of(services, query)
            screens.append({"query": query, "config": found[tv.IDS.config],
                            "state": found[tv.IDS.state], "stamp": None, "etag": None, "n": 0})
        cpu: dict[str, float] = defaultdict(float)
        count: dict[str, int] = defaultdict(int)
        size: dict[str, int] = defaultdict(int)

        def run(kind: str, method: str, path: str, body: bytes | None = None,
                headers: dict | None = None):
            status, got, data, spent = client.call(method, path, body, headers)
            cpu[kind] += spent
            count[kind] += 1
            size[kind] += len(data)
            if status not in (200, 204, 304):
                raise SystemExit(f"{kind}: {status} {data[:300]!r}")
            return status, got, data

        def round_of(label: str) -> None:
            for s in screens:
                headers = {"If-None-Match": s["etag"]} if s["etag"] else {}
                status, got, data = run(f"tick {label}", "GET", ask.ask_path(s["query"]),
                                        headers=headers)
                s["etag"] = got.get("ETag")
                if status == 200:
                    s["stamp"] = json.loads(data)["stamp"]
                s["n"] += 1
                body = json.dumps(poll_body(dash_app, s["config"], s["state"], s["stamp"],
                                            s["n"])).encode()
                status, _got, data = run(f"poll {label}", "POST", UPDATE_PATH, body)
                if status == 200:
                    answer = json.loads(data)["response"]
                    s["state"] = answer.get(tv.IDS.state, {}).get("data", s["state"])

        round_of("first")
        rng = random.Random(5)
        poll_cpu = 0.0
        for n in range(args.changes):
            services.store.upsert_responses([ResponseRecord(
                source="bench", external_id=f"bench-requests-{n}",
                score=rng.choice([0, 5, 7, 9, 10]), created_at=datetime.now(UTC),
                comment=rng.choice(["Fast support", "Too slow", ""]),
                segments={"product": rng.choice(PRODUCTS), "region": rng.choice(REGIONS),
                          "plan": rng.choice(PLANS)})])
            started = time.process_time()
            services.poller.poll()
            poll_cpu += time.process_time() - started
            round_of("after a change")
            round_of("nothing new")
        print(f"{args.screens} screens, {len(queries)} URL(s), {args.changes} changes; "
              f"poll job {1000 * poll_cpu / args.changes:.1f} ms CPU per change")
        for kind in count:
            if kind.endswith("first"):
                continue
            print(f"  {kind:<22} {1000 * cpu[kind] / count[kind]:7.3f} ms CPU per request, "
                  f"{size[kind] / count[kind] / 1024:6.2f} KB per answer "
                  f"({count[kind]} requests)")
        services.store.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
