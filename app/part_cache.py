"""The size-bounded cache of built page parts that screens share, and the list of screens
active lately (whose parts the poll job builds ahead of their requests).

This module only keeps parts; ``app.parts`` decides what to build and builds it.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from app.wire import Plain, Wire, json_length, json_size, to_plain


@dataclass(frozen=True)
class Part:
    """A built piece of a page and a stable fingerprint of what it shows; ``chars``: its
    JSON's length, and ``own`` of those not in ``Wire`` pieces other parts share (measured
    once, when built: the patch book sizes every part it keeps and sends with them)."""

    fingerprint: str
    payload: Any
    chars: int | None = field(default=None, compare=False)
    own: int | None = field(default=None, compare=False)


class PartCache:
    """Built parts keyed by (snapshot version, day, data key), built once per key and kept in
    the form Dash sends (``to_wire``), so no answer encodes a component tree again.

    A part whose fingerprint equals the one built for the previous version is reused, so a
    new event rebuilds the trend and nothing else. Bounded by size (the parts' JSON length
    plus their keys), not by entry count: one screen's figure can weigh a thousand others'.
    """

    def __init__(self, max_bytes: int = 48 * 2**20):
        self.max_bytes = max_bytes
        self.builds = 0
        self.bytes = 0
        self._items: OrderedDict[tuple, dict[str, Part]] = OrderedDict()
        self._recent: OrderedDict[tuple, Part] = OrderedDict()
        # id(Part) -> (its estimated bytes without its shared pieces, those pieces), cached
        self._sizes: dict[int, tuple[int, tuple[Wire, ...]]] = {}
        self._refs: dict[int, int] = {}  # id(Part) -> places in the cache that hold it
        # id(Wire) -> [cached parts that show the piece, its estimated bytes]: a comment's card
        # in 100 screens' feeds is one object, counted once (it was counted per part, so 100
        # distinct screens' parts overran the budget and were built again: issue 13, item 3)
        self._pieces: dict[int, list[int]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple, names: Iterable[str], fingerprint_of: Callable[[str], str],
            build: Callable[[str], Any]) -> dict[str, Part]:
        """The parts named for ``key`` = (version, *rest), building only what changed.

        ``fingerprint_of`` runs outside the lock: it may read the store (a wall's follow-up
        counts, ``app.parts``), and a screen whose parts are cached must not wait for another
        screen's read. Builds run under it, so each part is built once."""
        names = tuple(names)
        stamps: dict[str, str] = {}
        while True:
            with self._lock:
                entry = self._items.get(key)
                unknown = [name for name in names
                           if (entry is None or name not in entry) and name not in stamps]
                if not unknown:
                    return self._fill(key, names, stamps, build)
            # Another thread may fill or evict the entry meanwhile: look again after.
            stamps.update((name, fingerprint_of(name)) for name in unknown)

    def _fill(self, key: tuple, names: tuple[str, ...], stamps: dict[str, str],
              build: Callable[[str], Any]) -> dict[str, Part]:
        """``get`` under the lock, with the fingerprint of every part the entry lacks."""
        entry = self._items.get(key)
        if entry is None:
            entry = self._items[key] = {}
            self.bytes += _key_bytes(key)
        self._items.move_to_end(key)
        for name in names:
            if name in entry:
                continue
            stamp = stamps[name]
            recent_key = (*key[1:], name)
            part = self._recent.get(recent_key)
            if part is None or part.fingerprint != stamp:
                pieces: list[Wire] = []
                payload, chars = to_wire(build(name), pieces)
                own = chars - sum(w.chars for w in pieces)
                part = Part(stamp, payload, chars, own)
                self.builds += 1
                shared = tuple({id(w): w for w in pieces}.values())
                self._sizes[id(part)] = (_part_bytes(part, own), shared)
            self._hold(part)
            entry[name] = part
            old = self._recent.pop(recent_key, None)
            if old is None:
                self.bytes += _key_bytes(recent_key)
            else:
                self._release(old)
            self._hold(part)
            self._recent[recent_key] = part
        found = {name: entry[name] for name in names}
        self._evict()
        return found

    def _hold(self, part: Part) -> None:
        """Count a reference; a part's bytes count once however many places hold it."""
        refs = self._refs.get(id(part), 0)
        if refs == 0:
            own, shared = self._sizes[id(part)]
            self.bytes += own
            for piece in shared:  # the part holds the piece alive: its id stays its own
                held = self._pieces.get(id(piece))
                if held is None:
                    held = self._pieces[id(piece)] = [0, BYTES_PER_CHAR * piece.chars]
                    self.bytes += held[1]
                held[0] += 1
        self._refs[id(part)] = refs + 1

    def _release(self, part: Part) -> None:
        refs = self._refs.pop(id(part)) - 1
        if refs:
            self._refs[id(part)] = refs
            return
        own, shared = self._sizes.pop(id(part))
        self.bytes -= own
        for piece in shared:
            held = self._pieces[id(piece)]
            held[0] -= 1
            if not held[0]:
                self.bytes -= self._pieces.pop(id(piece))[1]

    def _evict(self) -> None:
        """Drop the least recently used entries until the cache fits its budget."""
        while self.bytes > self.max_bytes and (self._items or self._recent):
            # Old versions go first; the recent parts (reused across versions) last.
            if self._items:
                key, entry = self._items.popitem(last=False)
                for part in entry.values():
                    self._release(part)
            else:
                key, part = self._recent.popitem(last=False)
                self._release(part)
            self.bytes -= _key_bytes(key)


def _key_bytes(key: tuple) -> int:
    return 100 + sum(len(k) if isinstance(k, str) else 32 for k in key)


# Bytes a part in wire form holds per character of its compact JSON (``wire.json_size``): 4.9
# per character of ``json.dumps`` measured with tracemalloc on the demo's parts of 100 distinct
# screens (component trees took 4.4); their compact JSON is 7.5% shorter (5.3), with a margin.
BYTES_PER_CHAR = 6


def to_wire(payload: Any, pieces: list[Wire] | None = None) -> tuple[Any, int]:
    """A part as Dash sends it (plain dicts, lists, strings and numbers) and its JSON length;
    a ``Plain`` part is in that form already. The shared pieces of known length it holds
    (whose lengths are in the total) are added to ``pieces`` when given.

    Encoding a component tree with Plotly's encoder costs about as much as building it, and
    Dash did it again for every screen on every answer that carried the part: 20 ms for one
    screen's full update, measured, against 0.9 ms for the same parts in this form. Converted
    once when built, every screen's answer is a plain (C) JSON dump, and the cache knows the
    part's size without estimating it.
    """
    if payload is None:
        return None, 0
    if type(payload) is Plain:  # built in wire form: only its length to find
        value = payload.value
        return value, json_length(value, pieces) if payload.shared else json_size(value)
    wires: list = []
    plain = to_plain(payload, wires)
    # Pieces many screens share (comment cards, topic rows) were measured once, when made.
    return plain, json_length(plain, pieces) if wires else json_size(plain)


def _part_bytes(part: Part, chars: int) -> int:
    """What a cached part holds on its own, from its JSON length without its shared pieces
    (see ``BYTES_PER_CHAR``)."""
    return 400 + len(part.fingerprint) + BYTES_PER_CHAR * chars


class ActiveScreens:
    """The screens (URL requests and parts) asked for lately, so a new snapshot's parts can
    be built in the poll job before any of them asks again. A screen is an
    ``app.screen.ScreenConfig``; only its ``data_key`` is read here."""

    def __init__(self, size: int = 512, max_age: float = 120.0):
        self.size, self.max_age = size, max_age
        # key -> (screen, part names, when it last asked, how many times it asked, whether
        # that was a push of its stream)
        self._items: OrderedDict[str, tuple[Any, tuple[str, ...], float, int, bool]] = \
            OrderedDict()
        self._lock = threading.Lock()

    def note(self, screen: Any, names: tuple[str, ...], streamed: bool = False) -> None:
        """Remember that a screen asked just now (``streamed``: was pushed its answer by its
        tick stream here). Over ``size``, the screen that asked least lately and only once
        goes first: a wall asks after every change (or is pushed its answer), so a flood of
        filters asked once cannot push the walls out."""
        key = f"{screen.data_key}|{','.join(names)}"
        with self._lock:
            had = self._items.get(key)
            self._items[key] = (screen, names, time.monotonic(), had[3] + 1 if had else 1,
                                streamed)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                once = next((k for k, item in self._items.items() if item[3] == 1), None)
                if once is None:
                    self._items.popitem(last=False)
                else:
                    del self._items[once]

    def recent(self, polled: bool = False) -> list[tuple[Any, tuple[str, ...]]]:
        """Screens that asked within ``max_age`` seconds: those that asked more than once
        first (the walls that keep asking), each group the latest first; with ``polled``,
        not those last pushed their answer by a stream."""
        cutoff = time.monotonic() - self.max_age
        with self._lock:
            found = [item for item in reversed(self._items.values()) if item[2] >= cutoff]
        found.sort(key=lambda item: item[3] < 2)  # stable: the latest first within each
        return [(screen, names) for screen, names, _seen, _asks, streamed in found
                if not (polled and streamed)]

    def within(self, seconds: float) -> Iterator[tuple[Any, tuple[str, ...]]]:
        """``recent(polled=True)``, in its order, until ``seconds`` have passed since the
        call: the poll job builds ahead for as many screens as it can in that time, and a
        screen it did not reach builds on its own request, as it would without it. Each
        screen that asked lately is built ahead (up to ``size``: 100 distinct screens, not
        the last 32), and a flood of made-up filters cannot hold the poll job past its time.
        A screen last pushed its answer by its stream is not: the stream hub's round, woken
        first by the publish (``app.ask_stream``), builds it and pushes it at once; built
        here first, every stream waited for all of them (100 distinct streamed screens: p50
        186 ms from the poll's read to the screen)."""
        deadline = time.monotonic() + seconds
        for item in self.recent(polled=True):
            if time.monotonic() > deadline:
                return
            yield item


Key = tuple  # (snapshot version, day, data key, part names, fingerprints the screen has)


class AnswerBook:
    """Encoded part outputs by ``Key``, bounded, each built once; and per (data key, names)
    the fingerprints last sent, which ``warm`` diffs from when the next snapshot comes."""

    def __init__(self, max_bytes: int = 16 * 2**20, screens: int = 512):
        self.max_bytes, self.screens = max_bytes, screens
        self.builds = 0
        self.bytes = 0  # the encoded answers held (whole parts are ~60 KB, patches ~5 KB)
        self._items: OrderedDict[Key, tuple[bytes, str, dict[str, str]]] = OrderedDict()
        self._newest: OrderedDict[tuple, dict[str, str]] = OrderedDict()
        self._lock = threading.Lock()
        self._building = threading.Lock()

    def get(self, key: Key, build: Callable[[], tuple[bytes, str, dict[str, str]]]
            ) -> tuple[bytes, str, dict[str, str]]:
        """(the encoded part outputs, the new token, the new fingerprints) for ``key``."""
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                return found
        # One build at a time: builds are pure Python (the GIL runs one anyway), and the
        # screens that arrive together for the same key wait for the first one's bytes.
        with self._building:
            with self._lock:
                found = self._items.get(key)
            if found is None:
                found = build()
                with self._lock:
                    self.builds += 1
                    self._items[key] = found
                    self.bytes += len(found[0])
                    while self.bytes > self.max_bytes and len(self._items) > 1:
                        self.bytes -= len(self._items.popitem(last=False)[1][0])
                    screen = key[2:4]
                    self._newest[screen] = found[2]
                    self._newest.move_to_end(screen)
                    while len(self._newest) > self.screens:
                        self._newest.popitem(last=False)
        return found

    def newest(self, data_key: str, names: tuple[str, ...]) -> dict[str, str] | None:
        """The fingerprints last sent to screens of ``data_key`` showing ``names``."""
        with self._lock:
            return self._newest.get((data_key, names))
