"""Browser memory of the wall over time, with rotation and a live feed.

    python benchmarks/bench_wall_memory.py --minutes 10

Serves a demo store on 127.0.0.1, opens /tv in headless Chromium (Debian's chromium and
chromedriver), adds a response every few seconds, rotates panels every 3 s, and samples the
JS heap (after a forced garbage collection) and the DOM node count. Prints the samples and
the growth per hour of a least-squares line through them: flat means no leak.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from selenium import webdriver  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from app.config import DEFAULT_DATA_DIR, Settings  # noqa: E402
from app.demo.history import LiveFeed, build_demo_history  # noqa: E402
from app.services import get_services  # noqa: E402
from app.web import create_app, start_jobs, stop_jobs  # noqa: E402


def slope_per_hour(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of ys over xs (seconds), per hour."""
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs) or 1.0
    return 3600 * sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den


def feed_until(feed: LiveFeed, stop: threading.Event, every: float = 4.0) -> None:
    """Add a response every few seconds until ``stop`` is set."""
    while not stop.wait(every):
        feed.add_one()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--every", type=float, default=30.0, help="seconds between samples")
    parser.add_argument("--query", default="dwell=3", help="the wall's URL query")
    parser.add_argument("--no-feed", action="store_true", help="no live responses")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=tmp, topics_file=str(DEFAULT_DATA_DIR / "topics.json"),
                            poll_seconds=2.0)
        dash_app = create_app(settings)
        store = get_services(dash_app).store
        build_demo_history(store, days=120)
        start_jobs(dash_app)
        server = make_server("127.0.0.1", 0, dash_app.server, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        stop = threading.Event()
        if not args.no_feed:
            threading.Thread(target=feed_until, args=(LiveFeed(store), stop),
                             daemon=True).start()
        options = webdriver.ChromeOptions()
        for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                     "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync",
                     "--enable-precise-memory-info", "--js-flags=--expose-gc",
                     "--window-size=1920,1080"):
            options.add_argument(flag)
        options.binary_location = "/usr/bin/chromium"
        driver = webdriver.Chrome(options=options)
        try:
            driver.get(f"http://127.0.0.1:{server.server_port}/tv?{args.query}")
            time.sleep(10)
            started = time.monotonic()
            xs, heap, nodes = [], [], []
            while time.monotonic() - started <= args.minutes * 60:
                sample = driver.execute_script(
                    "if (window.gc) { window.gc(); }"
                    "return [performance.memory.usedJSHeapSize,"
                    " document.getElementsByTagName('*').length];")
                xs.append(time.monotonic() - started)
                heap.append(sample[0] / 1e6)
                nodes.append(sample[1])
                print(f"{xs[-1]:7.0f} s  heap {heap[-1]:7.2f} MB  DOM nodes {nodes[-1]}",
                      flush=True)
                time.sleep(args.every)
            print(f"heap: first {heap[0]:.2f} MB, last {heap[-1]:.2f} MB, "
                  f"trend {slope_per_hour(xs, heap):+.2f} MB/hour; DOM nodes: first {nodes[0]}, "
                  f"last {nodes[-1]}, trend {slope_per_hour(xs, nodes):+.0f}/hour")
        finally:
            stop.set()
            driver.quit()
            server.shutdown()
            stop_jobs(dash_app)


if __name__ == "__main__":
    main()
