"""The tick pushed: ``GET /api/v1/tick/stream?<screen params>`` is a server-sent event stream
of what ``GET /api/v1/tick`` answers (issue 13), so a wall screen stops asking once a second.

A wall screen's tick (app/ask.py) is about half of what 1,000 screens send; each is a whole
HTTP request through gunicorn (0.7-0.9 ms of a worker's CPU) to learn, mostly, that nothing
changed. Here the page's script (assets/nps_ask.js) opens one ``EventSource`` instead, gated
like the tick (the share-link gate, ``OutOfScope``), and the server sends the tick's body
(with ``age``, the seconds since the last good poll) when it changes and every
``HEARTBEAT_SECONDS`` regardless, which feeds the page's staleness and "Connection lost".

Under ``WallWorker`` (app/wsgi.py) the connection leaves gunicorn's threads once the headers
are sent: the worker's event loop keeps it (a socket and a poller entry), and one thread per
worker, ``StreamHub``, makes every stream's event once a second and at once when the poller
publishes, and hands the bytes to the loop to write. Each round re-resolves the stream's
share link from the worker's cache: a revoked or expired link gets a last ``refused`` event
and the stream ends (the page then shows the refusal, as for a tick); a link whose scope
was edited ends the stream, so the page reconnects through the gate. Werkzeug's development
server (``nps-tv`` tests, ``app.run``) gets the same events from a generator, a thread each,
for ``DEV_STREAM_SECONDS``. Any other server answers ``204`` and the page asks by tick, as
it does with ``NPS_TV_ASK_STREAM=false``.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, request

from app import ask, live_page, poll_bytes
from app.access import COOKIE
from app.ingest.http import ApiError
from app.live_status import build_status
from app.scopes import access_mode_of_request, current_link, is_admin_request
from app.services import get_services
from app.store import StoreUnavailable

if TYPE_CHECKING:
    from app.live_page import LivePage
    from app.screen import ScreenConfig
    from app.services import Services
    from app.store.links import ShareLinkRow

log = logging.getLogger("nps_tv.ask_stream")

STREAM_PATH = ask.STREAM_PATH
HEARTBEAT_SECONDS = 5.0  # an unchanged tick is sent again this often (its age moved)
ROUND_SECONDS = 1.0  # how often the hub looks at every stream (the poller's publish: at once)
DELIVER_EVERY = 64  # a round hands its events to be written this many at a time
DELIVER_SECONDS = 0.01  # ... or what it has this long after the last hand-off
RETRY_MS = 2000  # the browser reconnects this long after the stream broke
DEV_STREAM_SECONDS = 600.0  # a development-server stream holds a thread; it ends after this
# In the WSGI environ when the server keeps streams (WallWorker): called with the Watch, it
# says whether the server took the stream (False: it has as many as it keeps).
ADOPT_KEY = "nps_tv.adopt"
HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}  # nginx: pass at once
# In an event that carries the poll's answer: the screen (data key), the part fingerprints
# (part name -> fingerprint) it applies to, and the data mark it brings.
PUSHED = "push"
# The largest poll answer pushed (a larger one: the tick alone, and the page polls). Patches
# are ~5 KB, every part whole ~80 KB; WallWorker.deliver writes what a socket cannot take at
# once as it drains (app/wsgi.py, STREAM_BACKLOG_BYTES).
MAX_PUSH_BYTES = 256 * 1024
# A page whose parts are not the ones its stream last pushed from (its last poll reached a
# worker or instance at another snapshot) opens its stream again naming the parts it has,
# ``had=<part>:<fingerprint>,...`` (assets/nps_ask.js ``resync``): the stream only knows what
# it sent, and without this every push after would miss too, each costing a poll.
HAD = "had"
FINGERPRINT = re.compile(r"[0-9a-f]{16}")  # ``parts.fingerprint``: 8 bytes, hex


@dataclass
class Watch:
    """One screen's stream: what its events are made from, and what it was last sent."""

    services: Services
    data_key: str
    link: ShareLinkRow | None = None  # the share link it came with (re-checked each round)
    token: str = ""  # that link's token, to re-resolve it from the worker's cache
    links_mode: bool = False  # whether a refused link ends the stream with ``refused``
    sent: bytes = b""
    next_beat: float = 0.0
    ended: bool = False
    # To push the poll's answer with a changed stamp (None: ticks only): the wall's page and
    # the screen; the stamp last sent, and the part fingerprints the screen has once it
    # applied what it was sent (the next answer starts from them).
    page: LivePage | None = None
    screen: ScreenConfig | None = None
    stamp: str | None = None
    hashes: dict[str, str] | None = None
    pushes: int = 0

    def event(self, now: float, status: dict | None = None,
              alike: dict | None = None) -> tuple[bytes | None, bool]:
        """The bytes to send now (None: nothing) and whether the stream ends after them.

        ``alike``: what this round made already for streams that get the same (a round's
        dict, ``StreamHub.round``): streams of one screen data key and link get one tick,
        and those that also had the same parts one pushed answer, made once, not once per
        stream (1,000 walls of one office after each change)."""
        if self.ended:
            return None, True
        refused = self.refused()
        if refused is not None:
            self.ended = True
            if not refused:
                return None, True
            return frame({"refused": refused}), True
        alike = {} if alike is None else alike
        mine = (id(self.services), self.data_key, self.link.id if self.link else None)

        def tick() -> tuple:
            reported = live_page.report_link(
                self.services, status or build_status(self.services), self.link)
            body, age = ask.tick_of(self.services, self.data_key, reported)
            return reported, body, age, json.dumps(body, separators=(",", ":")).encode()

        status, body, age, data = once(alike, mine, tick)
        if data == self.sent and now < self.next_beat:
            return None, False
        self.sent, self.next_beat = data, now + HEARTBEAT_SECONDS
        pushed, answer = self.follow(body["stamp"], status, alike, mine)

        def event() -> bytes:
            told = {**body, "age": None if age is None else round(age, 2)}
            return frame(told) if answer is None else frame({**told, PUSHED: pushed}, answer)

        # Streams given the same answer (one object from ``alike``) get the same event.
        return once(alike, (*mine, "event", id(answer)), event), False

    def follow(self, stamp: str, status: dict, alike: dict | None = None,
               mine: tuple = ()) -> tuple[dict, bytes | None]:
        """When the stamp moved: the poll's answer for a screen with ``hashes``, and what
        it applies to (the data key, those fingerprints, and the answer's data mark: a page
        whose data is newer must not take it), which the page serves its poll from if it
        has those parts (assets/nps_ask.js ``serve``); else None.

        A screen's first event carries none (its page polls as it opens); the fingerprints
        it then has are the parts' now. They are content hashes, alike in every worker and
        instance, so a page whose last poll reached another one matches all the same; a
        page that does not (it missed an event) polls, and matches again once it has the
        parts this worker sent. ``alike`` and ``mine``: as for ``event``.
        """
        if self.page is None or self.screen is None or stamp == self.stamp:
            return {}, None
        alike = {} if alike is None else alike
        names = self.page.part_names(self.screen)
        first, start = self.stamp is None or self.hashes is None, self.hashes or {}
        self.stamp = stamp
        if first:  # alike for every stream of the screen (all of them after a failed push)
            self.hashes = once(alike, (*mine, names, stamp, None),
                               lambda: self._current_hashes(names))
            return {}, None
        pushed, answer, self.hashes = once(
            alike, (*mine, names, stamp, tuple(sorted(start.items()))),
            lambda: self._answer(names, start, status))
        if answer is not None:
            self.pushes += 1
        return pushed, answer

    def _current_hashes(self, names: tuple[str, ...]) -> dict[str, str] | None:
        """The fingerprints of the screen's parts now (None: the store failed)."""
        try:
            return poll_bytes.current_hashes(self.services, self.screen, names)
        except StoreUnavailable as exc:
            log.warning("no pushed answer for %s: %s", self.data_key, exc)
            return None

    def _answer(self, names: tuple[str, ...], start: dict[str, str],
                status: dict) -> tuple[dict, bytes | None, dict[str, str] | None]:
        """(what the answer applies to, the answer or None, the fingerprints the page has
        after it) for a page that has the parts fingerprinted ``start``."""
        try:
            answer, state = poll_bytes.answer_bytes(
                self.services, self.page, self.screen, names,
                {"key": self.data_key, "hashes": start}, status, streamed=True)
        except StoreUnavailable as exc:  # the parts read the store (the follow-up line)
            # The tick goes out alone (its status says the trouble; the page polls), and
            # the next change starts afresh: what the page has is not known now.
            log.warning("no pushed answer for %s: %s", self.data_key, exc)
            return {}, None, None
        if state is None:  # no parts sent: cannot happen from a state without a token
            return {}, None, start
        # What the page has once it applied (or, over the largest push, polled) it.
        if len(answer) > MAX_PUSH_BYTES:
            return {}, None, state["hashes"]
        return {"key": self.data_key, "from": start, "mark": state["mark"]}, answer, \
            state["hashes"]

    def refused(self) -> str | None:
        """Why the stream must end: the link's refusal (``revoked``...), ``""`` to just end
        it (its scope changed: the page reconnects through the gate), None to go on."""
        book = self.services.links
        if self.link is None or book is None:
            return None
        found = book.resolve(self.token, allow_lookup=False)
        if found.ok and found.link is not None and same_scope(found.link, self.link):
            return None
        return found.reason if self.links_mode and not found.ok else ""


def once(alike: dict, key: tuple, make: Callable[[], Any]) -> Any:
    """``make()``, made once per ``key`` in ``alike`` (a round's; None is kept too)."""
    if key not in alike:
        alike[key] = make()
    return alike[key]


def same_scope(a: ShareLinkRow, b: ShareLinkRow) -> bool:
    """Whether two versions of a link show the same (its role, screen and comments)."""
    return (a.id, a.role, a.screen, a.comments) == (b.id, b.role, b.screen, b.comments)


def frame(body: dict, answer: bytes | None = None) -> bytes:
    """One server-sent event carrying ``body`` as JSON, and on a second line ``answer`` (the
    poll's answer, one line of JSON: ``json.dumps`` escapes every line break)."""
    data = b"data: " + json.dumps(body, separators=(",", ":")).encode()
    if answer is not None:
        data += b"\ndata: " + answer
    return data + b"\n\n"


def first_bytes(watch: Watch) -> bytes:
    """What a stream starts with: the reconnect delay and the screen's current tick."""
    data, _ = watch.event(time.monotonic())
    return f"retry: {RETRY_MS}\n\n".encode() + (data or b"")


class StreamHub:
    """A worker's streams: one thread makes their events (a round every ``ROUND_SECONDS``,
    and at once when a poller publishes) and hands them to ``deliver`` as a list of
    ``(key, bytes or None, ends)``; the owner of the sockets writes them."""

    def __init__(self, deliver: Callable[[list], object]):
        self.deliver = deliver
        self._watches: dict[object, Watch] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._hooked: set[int] = set()  # pollers whose publish wakes the hub

    def add(self, key: object, watch: Watch) -> None:
        with self._lock:
            self._watches[key] = watch
            poller = watch.services.poller
            if id(poller) not in self._hooked:
                self._hooked.add(id(poller))
                # First: the round builds and pushes its screens' answers while the poll job
                # builds ahead for the screens that poll (``ActiveScreens.within``), instead
                # of after it built for all of them.
                poller.on_publish.insert(0, self.wake)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="nps-tv-streams",
                                                daemon=True)
                self._thread.start()

    def remove(self, key: object) -> None:
        with self._lock:
            self._watches.pop(key, None)

    def __len__(self) -> int:
        return len(self._watches)

    def wake(self) -> None:
        """A poller published: send the changed ticks now, not at the next round."""
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait(ROUND_SECONDS)
            self._wake.clear()
            try:
                self.round(time.monotonic())
            except Exception:  # the thread must outlive a bug in one round
                log.exception("stream round failed")

    def round(self, now: float) -> list:
        """Every stream's event now; the batch is handed to ``deliver`` and returned."""
        with self._lock:
            watches = list(self._watches.items())
        statuses: dict[int, dict] = {}
        alike: dict = {}  # what streams of one screen get alike, made once (Watch.event)
        batch: list = []
        handed, last = 0, time.monotonic()  # the events handed to ``deliver`` so far, when
        for key, watch in watches:
            services = watch.services
            if id(services) not in statuses:
                statuses[id(services)] = build_status(services)
            try:
                data, ends = watch.event(now, statuses[id(services)], alike)
            except Exception:  # noqa: BLE001 - one screen's failure ends its stream only
                log.exception("stream event failed")
                data, ends = None, True
            if data is not None or ends:
                batch.append((key, data, ends))
                if ends:
                    self.remove(key)
            # The first need not wait for the last: handed on every DELIVER_EVERY events, or
            # DELIVER_SECONDS after the last hand-off (distinct screens' answers are built
            # here, a millisecond or two each).
            if len(batch) > handed and (len(batch) - handed >= DELIVER_EVERY
                                        or time.monotonic() - last >= DELIVER_SECONDS):
                self.deliver(batch[handed:])
                handed, last = len(batch), time.monotonic()
        if len(batch) > handed:
            self.deliver(batch[handed:])
        return batch


def parse_had(text: str, names: tuple[str, ...]) -> dict[str, str]:
    """The part fingerprints a page reopening its stream says it has (``HAD``): each of the
    screen's parts once, as ``name:fingerprint``; ApiError 400 naming ``had`` otherwise."""
    items = text.split(",") if len(text) <= 64 * max(len(names), 1) else []
    hashes: dict[str, str] = {}
    for name, _, value in (item.partition(":") for item in items):
        if name not in names or name in hashes or not FINGERPRINT.fullmatch(value):
            break
        hashes[name] = value
    if len(hashes) != len(names) or len(items) != len(names):
        raise ApiError.single(400, HAD, "must name each of the screen's parts once as "
                              f"part:fingerprint (16 hex digits); its parts: {', '.join(names)}")
    return hashes


def dev_server_events(watch: Watch, seconds: float = DEV_STREAM_SECONDS) -> Iterator[bytes]:
    """The stream as a generator (a thread each): for Werkzeug's development server."""
    yield first_bytes(watch)
    until = time.monotonic() + seconds
    try:
        while time.monotonic() < until:
            time.sleep(ROUND_SECONDS / 2)
            data, ends = watch.event(time.monotonic())
            if data:
                yield data
            if ends:
                return
    except SystemExit:  # the development server stopping its threads (dash.testing does)
        return


def build_blueprint(page: LivePage | None = None) -> Blueprint:
    """``GET /api/v1/tick/stream`` (gated like the tick and the wall); with the wall's
    ``page``, a changed tick carries the poll's answer (``Watch.follow``)."""
    bp = Blueprint("nps_ask_stream", __name__)

    @bp.get(STREAM_PATH)
    def stream():
        services = get_services()
        query = {k: v for k, v in request.args.items() if isinstance(v, str) and k != HAD}
        screen = live_page.screen_for(services, query)  # OutOfScope: a 403 naming the field
        live_page.require_surface("wall")
        link = None if is_admin_request() else current_link()
        had = request.args.get(HAD)
        hashes = None if had is None or page is None else parse_had(
            had, page.part_names(screen))
        watch = Watch(services, screen.data_key, link,
                      request.cookies.get(COOKIE, "") if link is not None else "",
                      links_mode=access_mode_of_request() == "links",
                      page=page, screen=screen,
                      # Its first event pushes the answer from the parts the page has.
                      stamp=None if hashes is None else "", hashes=hashes)
        adopt = request.environ.get(ADOPT_KEY)
        if not services.settings.ask_stream:
            return Response(status=204, headers=HEADERS)
        if adopt is not None:  # WallWorker keeps the connection in its event loop
            if not adopt(watch):
                return Response(status=204, headers=HEADERS)  # it keeps enough: ask instead
            return Response(first_bytes(watch), mimetype="text/event-stream", headers=HEADERS)
        if str(request.environ.get("SERVER_SOFTWARE", "")).startswith("Werkzeug"):
            return Response(dev_server_events(watch), mimetype="text/event-stream",
                            headers=HEADERS)
        return Response(status=204, headers=HEADERS)  # a thread per screen: ask by tick

    return bp
