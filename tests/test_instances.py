"""Two real server instances (``nps-tv serve``, two workers each) on one PostgreSQL behind a
real nginx running the shipped docs/deploy/nginx-instances.conf (issue 13, item 4).

A screen whose polls alternate between the instances never shows older data than it has shown,
a response written to one instance shows on the other within the poll interval + 1 s, and both
instances report the same build id (a screen switching instance does not reload).
"""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.store import Store
from app.tv import IDS
from tests.conftest import (
    INGEST_TOKEN,
    POSTGRES_URL,
    _reset_postgres,
    free_port,
    require_postgres,
    write_nginx_main,
)
from tests.servers import find_nginx, start_nginx, start_serve, stop
from tests.test_ask_stream_served import Stream

ROOT = Path(__file__).resolve().parent.parent
NGINX_CONF = ROOT / "docs" / "deploy" / "nginx-instances.conf"
POLL_SECONDS = 1.0
MARKER = re.compile(r"marker (\d+)")
# The told screen's writes: below the markers the cross-instance test writes (10,001 and
# 10,002), which it finds as the largest marker shown.
TOLD_MARKERS = 5_000
RESYNC_SECONDS = 5.0  # assets/nps_ask.js RESYNC_MS


def start_instance(tmp: Path, name: str) -> tuple[subprocess.Popen, int]:
    """One ``nps-tv serve`` (two workers) on the test PostgreSQL; (process, port)."""
    return start_serve(tmp, name, DATA_DIR=str(tmp / name), DATABASE_URL=POSTGRES_URL,
                       INGEST_TOKEN=INGEST_TOKEN, ACCESS="open", PROXY_HOPS="1", WORKERS="2",
                       POLL_SECONDS=str(POLL_SECONDS))


def render_nginx_conf(prefix: Path, listen: int, upstreams: list[int]) -> Path:
    """The shipped config with test ports and log path, and a header naming the instance."""
    site = NGINX_CONF.read_text()
    for old, new in (("listen 80;", f"listen 127.0.0.1:{listen};"),
                     ("server 127.0.0.1:8050;", f"server 127.0.0.1:{upstreams[0]};"),
                     ("server 127.0.0.1:8051;", f"server 127.0.0.1:{upstreams[1]};"),
                     ("/var/log/nginx/nps-tv.access.log", str(prefix / "access.log")),
                     ("location / {", "location / {\n        add_header X-Upstream "
                                      "$upstream_addr always;")):
        assert old in site, f"{NGINX_CONF} no longer contains {old!r}: update this test"
        site = site.replace(old, new)
    (prefix / "nps-tv.conf").write_text(site)
    return write_nginx_main(prefix, prefix / "nps-tv.conf")


@pytest.fixture(scope="module")
def instances(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Two instances on a fresh test database and nginx in front: their ports and nginx's."""
    require_postgres()
    find_nginx()  # fails or skips with the reason before anything starts
    store = Store(POSTGRES_URL)
    _reset_postgres(store)
    store.dispose()
    tmp = tmp_path_factory.mktemp("instances")
    started: list[subprocess.Popen] = []
    try:
        # One after the other: the first brings the empty database to the newest schema.
        one, port_one = start_instance(tmp, "one")
        started.append(one)
        two, port_two = start_instance(tmp, "two")
        started.append(two)
        prefix = tmp / "nginx"
        prefix.mkdir()
        port = free_port()
        conf = render_nginx_conf(prefix, port, [port_one, port_two])
        started.append(start_nginx(prefix, conf, port))
        yield {"one": port_one, "two": port_two, "nginx": port}
    finally:
        for proc in reversed(started):
            stop(proc)


def call(port: int, method: str, path: str, body: dict | None = None,
         headers: dict | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers={"Content-Type": "application/json", **(headers or {})})
        reply = conn.getresponse()
        return reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read()
    finally:
        conn.close()


def write(port: int, n: int) -> None:
    """Post response ``n`` (its comment carries the marker) through the REST API."""
    status, _, body = call(port, "POST", "/api/v1/responses",
                           {"external_id": f"instances-{n}", "score": 9 if n % 2 else 3,
                            "comment": f"Support call, marker {n}"},
                           {"Authorization": f"Bearer {INGEST_TOKEN}"})
    assert status in (200, 201), body


class WallScreen:
    """What a wall screen's poll sends and keeps, as the Dash renderer does it."""

    def __init__(self, port: int, query: dict | None = None):
        self.state = None
        self.query = query or {}
        self.n = 0
        status, _, body = call(port, "GET", "/_dash-dependencies")
        assert status == 200
        self.callback = next(d for d in json.loads(body)
                             if any(i["id"] == IDS.poll for i in d["inputs"]))
        self.outputs = [dict(zip(("id", "property"), o.rsplit(".", 1), strict=True))
                        for o in self.callback["output"].strip(".").split("...")]

    def poll(self, port: int, headers: dict | None = None) -> tuple[dict, dict[str, str]]:
        """One poll on ``port`` (with ``headers``): (the outputs sent, by id; the response
        headers)."""
        self.n += 1
        body = {"output": self.callback["output"], "outputs": self.outputs,
                "inputs": [{**i, "value": self.n if i["id"] == IDS.poll else None}
                           for i in self.callback["inputs"]],
                "changedPropIds": [f"{IDS.poll}.n_intervals"],
                "state": [{"id": IDS.config, "property": "data",
                           "value": {"query": self.query}},
                          {"id": IDS.state, "property": "data", "value": self.state}]}
        status, got, answer = call(port, "POST", "/_dash-update-component", body, headers)
        assert status in (200, 204), answer[:300]
        sent = json.loads(answer)["response"] if status == 200 else {}
        if IDS.state in sent:
            self.state = sent[IDS.state]["data"]
        return sent, got


def newest_marker(sent: dict) -> int | None:
    """The newest response's marker among the parts sent (None when no part was sent)."""
    parts = {k: v for k, v in sent.items() if k not in (IDS.state, IDS.status)}
    found = [int(m) for m in MARKER.findall(json.dumps(parts))]
    return max(found) if found else None


def test_a_screen_alternating_between_instances_never_steps_back(instances):
    assert instances_agree_on_build(instances)
    screen = WallScreen(instances["nginx"])
    stop_writing = threading.Event()

    def writer() -> None:  # through nginx too: writes land on both instances
        n = 1
        while not stop_writing.wait(0.3):
            write(instances["nginx"], n)
            n += 1

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    shown_marker, shown_mark, upstreams, steps = 0, [0, 0], set(), 0
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            sent, headers = screen.poll(instances["nginx"])
            upstreams.add(headers.get("x-upstream"))
            marker = newest_marker(sent)
            if marker is not None:
                assert marker >= shown_marker, (marker, shown_marker, headers)
                steps += marker > shown_marker
                shown_marker = max(shown_marker, marker)
            if IDS.state in sent:
                mark = sent[IDS.state]["data"]["mark"]
                assert mark >= shown_mark, (mark, shown_mark, headers)
                shown_mark = mark
            time.sleep(0.1)
    finally:
        stop_writing.set()
        thread.join(10)
    ports = {f"127.0.0.1:{instances['one']}", f"127.0.0.1:{instances['two']}"}
    assert upstreams == ports  # the screen really alternated
    assert steps >= 5, steps  # and kept taking newer data while it did


def takes(state: dict | None, push: dict) -> bool:
    """Whether a page with ``state`` serves its poll from a pushed answer (as
    assets/nps_ask.js ``serve``): the same data key and fingerprints, and no newer data."""
    return bool(state) and state["key"] == push["key"] and state["hashes"] == push["from"] and (
        state["mark"] <= push["mark"])


def test_a_told_screen_alternating_between_instances_never_steps_back(instances):
    """Its stream (and the answers it pushes) on one instance, its polls (when a push does
    not start from what it has, and now and then regardless) on either, as the page sends
    them (naming the stamp it was told). After a push it could not take and its poll, it
    reopens its stream naming the parts it has (at most every ``RESYNC_SECONDS``, as
    assets/nps_ask.js ``resync``): the stream knows only what it pushed, and a poll that
    reached a worker at another snapshot than the stream's left the page with other parts."""
    screen = WallScreen(instances["nginx"], {"dwell": "10"})
    stream = Stream(instances["one"])
    stop_writing = threading.Event()

    def writer() -> None:
        n = 1
        while not stop_writing.wait(0.3):
            write(instances["nginx"], TOLD_MARKERS + n)
            n += 1

    thread = threading.Thread(target=writer, daemon=True)
    shown_marker, shown_mark, served, polled, resynced = 0, [0, 0], 0, 0, []

    def shown(sent: dict) -> None:
        nonlocal shown_marker, shown_mark
        marker = newest_marker(sent)
        if marker is not None:
            assert marker >= shown_marker, (marker, shown_marker)
            shown_marker = max(shown_marker, marker)
        if IDS.state in sent:
            mark = sent[IDS.state]["data"]["mark"]
            assert mark >= shown_mark, (mark, shown_mark)
            shown_mark = mark
            screen.state = sent[IDS.state]["data"]

    def poll(tick: dict) -> None:
        shown(screen.poll(instances["nginx"], {"X-NPS-TV-Stamp": tick["stamp"],
                                               "X-NPS-TV-Streamed": "1"})[0])

    try:
        # The page opens while responses flow: its stream and its first poll on different
        # instances, likely a snapshot apart.
        thread.start()
        time.sleep(1.0)
        stream.next_event(10)
        shown(screen.poll(instances["two"])[0])
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            tick = stream.next_event(10)
            if tick.get("push") and takes(screen.state, tick["push"]):
                shown(stream.answer["response"])
                served += 1
            elif tick.get("push"):
                poll(tick)
                polled += 1
                if not resynced or time.monotonic() - resynced[-1] >= RESYNC_SECONDS:
                    resynced.append(time.monotonic())
                    stream.close()
                    stream = Stream(instances["one"], "dwell=10&had=" + ",".join(
                        f"{k}:{v}" for k, v in screen.state["hashes"].items()))
                    continue  # its first event pushes from the parts the page has
            if served % 3 == 2:  # the safety net's poll, through nginx: either instance
                poll(tick)
    finally:
        stop_writing.set()
        stream.close()
        if thread.is_alive():
            thread.join(10)
    print(f"served {served}, polled {polled}, reopened {len(resynced)}")
    assert served >= 5, (served, polled, len(resynced))  # most changes applied from a push
    assert shown_marker > TOLD_MARKERS + 10  # and the screen kept up with the writes


def test_a_write_to_one_instance_shows_on_the_other_within_poll_plus_a_second(instances):
    for source, target, n in (("one", "two", 10_001), ("two", "one", 10_002)):
        screen = WallScreen(instances[target])
        screen.poll(instances[target])
        write(instances[source], n)
        written = time.monotonic()
        while True:
            sent, _ = screen.poll(instances[target])
            if newest_marker(sent) == n:
                break
            assert time.monotonic() - written <= POLL_SECONDS + 1.0, f"{n} not shown on {target}"
            time.sleep(0.05)
        print(f"written to {source}, shown on {target} after "
              f"{time.monotonic() - written:.2f} s")


def instances_agree_on_build(instances: dict) -> bool:
    """Both instances report one build id (computed from the code, not from a start time)."""
    ids = {json.loads(call(instances[name], "GET", "/health")[2])["build_id"]
           for name in ("one", "two")}
    return len(ids) == 1
