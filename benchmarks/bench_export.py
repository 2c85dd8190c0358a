"""Export and comparison at scale: rows/s and peak memory of the streaming responses CSV and
of the comment explorer's CSV (``/api/v1/comments.csv``, as an admin and masked), and
the time of the segment comparison table, on stores of 100,000 and 1,000,000 responses.

Budgets (issue 12): the export streams at least 50,000 rows/s with flat memory (the peak
over the process's baseline must not grow with the row count); the comparison table answers
in under 50 ms, and so does the workspace's whole comparison section (the table and its
small multiples, built as the page builds them).

Each size runs in a fresh child process so its peak RSS (``ru_maxrss``) is its own:

    python benchmarks/bench_export.py [--sizes 100000 1000000]
    python benchmarks/bench_export.py --sizes 1000000 --postgres postgresql+psycopg://...

With ``--postgres`` the database is seeded by ``pg_seed.py`` (emptied first!) unless it
already holds exactly the size's rows, so a second run measures the same store.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_poll import seed  # noqa: E402

TOKEN = "bench-admin-token-0123456789abcdef"


def rss_mb() -> float:
    """This process's peak resident set so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def time_sections(services, repeats: int = 21) -> list[float]:
    """Seconds of the workspace's comparison section (view, table, small multiples and their
    components), each on an uncached view."""
    from app.views import ViewRequest
    from app.workspace.compare import build_compare_section

    settings, poller = services.settings, services.poller
    times = []
    for i in range(repeats):
        started = time.perf_counter()
        view = poller.view(ViewRequest(window=f"{60 + i}d"))
        build_compare_section(poller.snapshot, view, "region", tuple(settings.segment_fields),
                              "", settings.min_sample, settings.compare_min_responses)
        times.append(time.perf_counter() - started)
    return times


def child(url: str) -> dict[str, float]:
    """Open an app on the seeded store, poll once, then time the comparison and the export."""
    from app.config import Settings
    from app.services import get_services
    from app.web import create_app

    settings = Settings(database_url=url, admin_token=TOKEN,
                        segment_fields=("product", "region", "plan"))
    dash_app = create_app(settings)
    get_services(dash_app).poller.poll()
    sections = time_sections(get_services(dash_app))
    client = dash_app.server.test_client()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    times = []
    for i in range(21):
        started = time.perf_counter()
        reply = client.get(f"/api/v1/compare?field=region&window={30 + i}d")  # uncached views
        times.append(time.perf_counter() - started)
        assert reply.status_code == 200, reply.get_data(as_text=True)
    result = {"compare_ms_median": 1000 * statistics.median(times),
              "compare_ms_max": 1000 * max(times),
              "section_ms_median": 1000 * statistics.median(sections),
              "section_ms_max": 1000 * max(sections)}
    result.update(stream(client, "/api/v1/responses.csv?window=all", headers, "export"))
    # The comment explorer's CSV: every comment (an admin's, as stored), then a visitor's
    # (personal data masked as the explorer shows it), then a search.
    result.update(stream(client, "/api/v1/comments.csv?window=all", headers, "comments"))
    result.update(stream(client, "/api/v1/comments.csv?window=all", {}, "masked"))
    result.update(stream(client, "/api/v1/comments.csv?window=all&q=expensive"
                                 "&category=detractor", {}, "search"))
    return result


def stream(client, url: str, headers: dict, name: str) -> dict[str, float]:
    """Rows, seconds, rows/s, MB and the peak RSS growth of one streamed CSV, read chunk by
    chunk as a web server sends it (``ru_maxrss`` only grows: the growth is over the peak of
    everything before)."""
    baseline = rss_mb()
    started = time.perf_counter()
    reply = client.get(url, headers=headers, buffered=False)
    assert reply.status_code == 200, reply.status_code
    rows = size = 0
    for chunk in reply.response:
        size += len(chunk)
        rows += chunk.count(b"\r\n") if isinstance(chunk, bytes) else chunk.count("\r\n")
    seconds = time.perf_counter() - started
    # Rows end in CRLF; a comment's own line breaks are LF only, so they are not counted.
    return {f"{name}_rows": rows - 1, f"{name}_seconds": seconds,
            f"{name}_rows_per_s": (rows - 1) / seconds, f"{name}_mb": size / 2**20,
            f"{name}_rss_baseline_mb": baseline,
            f"{name}_rss_peak_over_baseline_mb": rss_mb() - baseline}


def prepare(postgres: str | None, size: int, tmp: Path) -> str:
    """The URL of a store holding ``size`` seeded responses."""
    if not postgres:
        path = tmp / f"export-{size}.db"
        seed(path, size)
        return f"sqlite:///{path}"
    from app.store import Store
    from benchmarks.pg_seed import seed_postgres

    store = Store(postgres)
    store.upgrade()
    held = store.count_responses()
    store.dispose()
    if held != size:
        seed_postgres(postgres, size)
    return postgres


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--postgres", help="a PostgreSQL URL (emptied!) instead of SQLite")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child)))
        return
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            url = prepare(args.postgres, size, Path(tmp))
            out = subprocess.run([sys.executable, __file__, "--child", url], check=True,
                                 capture_output=True, text=True).stdout
            results[size] = json.loads(out.strip().splitlines()[-1])
            r = results[size]
            print(f"{size:>9,} stored: compare {r['compare_ms_median']:.1f} ms median "
                  f"({r['compare_ms_max']:.1f} max)")
            for name, what in (("export", "responses.csv"), ("comments", "comments.csv admin"),
                               ("masked", "comments.csv masked"),
                               ("search", "comments.csv q=expensive detractors")):
                print(f"{size:>9,} stored: {what}: {r[name + '_rows']:,} rows in "
                      f"{r[name + '_seconds']:.1f} s = {r[name + '_rows_per_s']:,.0f} rows/s, "
                      f"{r[name + '_mb']:.0f} MB; RSS {r[name + '_rss_baseline_mb']:.0f} MB "
                      f"before, peak +{r[name + '_rss_peak_over_baseline_mb']:.1f} MB")
            print(f"{size:>9,} stored: comparison section (view, table, small multiples) "
                  f"{r['section_ms_median']:.1f} ms median ({r['section_ms_max']:.1f} max)")
    if len(results) >= 2:
        small, large = min(results), max(results)
        for name in ("export", "comments", "masked"):
            big, little = results[large], results[small]
            print(f"{name} peak memory {large:,} vs {small:,}: "
                  f"+{big[name + '_rss_peak_over_baseline_mb']:.1f} MB vs "
                  f"+{little[name + '_rss_peak_over_baseline_mb']:.1f} MB; rows/s ratio "
                  f"{big[name + '_rows_per_s'] / little[name + '_rows_per_s']:.2f}")


if __name__ == "__main__":
    main()
