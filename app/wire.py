"""Page parts in the form Dash sends them: plain dicts, lists, strings and numbers.

Encoding a Dash component tree (``Component.to_plotly_json`` through Plotly's encoder) costs
about as much as building it. Parts are converted once, when built (``app.part_cache``), and
pieces that many screens show alike (a comment's card) once for all of them (``WireMemo``).
The registry's panel builders skip the components altogether: they build with ``TAGS``,
whose ``TAGS.Div(...)`` makes the wire form of ``html.Div(...)`` directly.
"""

from __future__ import annotations

import json
import math
import threading
import weakref
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from dash import html
from dash.development.base_component import Component
from plotly.utils import PlotlyJSONEncoder

try:  # a C encoder 7-12 times faster than the standard one (Plotly and Dash use it too)
    import orjson
except ImportError:  # pragma: no cover - measured with the standard encoder then
    orjson = None


@dataclass(frozen=True)
class Plain:
    """A part already in wire form (a builder made it with ``TAGS``): the part cache keeps
    ``value`` as it is, without a ``to_plain`` walk. ``shared``: it may hold ``Wire`` pieces
    (measured by ``json_length``; a figure, which holds none, is dumped whole: faster)."""

    value: Any
    shared: bool = True


class Wire(dict):
    """A piece already in wire form: ``to_plain`` passes it on as it is (never mutate one).
    ``chars``: its ``json_size``, when known (``WireMemo`` sets it)."""

    chars: int | None = None


def to_plain(value: Any, wires: list[Wire] | None = None) -> Any:
    """``value`` as the JSON Dash would send, without a Plotly encoder round trip: a component
    becomes ``{"props", "type", "namespace"}`` as ``Component.to_plotly_json`` makes it (with
    the props it holds), a non-finite float ``None`` as Plotly's encoder writes it. The
    ``Wire`` pieces met are added to ``wires`` when given."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if type(value) is Wire:
        if wires is not None:
            wires.append(value)
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: to_plain(v, wires) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v, wires) for v in value]
    if isinstance(value, Component) and type(value).to_plotly_json is Component.to_plotly_json:
        names, wild = _prop_rule(value)
        return {"props": {k: to_plain(v, wires) for k, v in vars(value).items()
                          if k in names or k.startswith(wild)},
                "type": value._type, "namespace": value._namespace}
    # Anything else (numpy values, dates, components with their own JSON) the slow, sure way.
    return json.loads(json.dumps(value, cls=PlotlyJSONEncoder))


def json_size(plain: Any) -> int:
    """The length of ``plain``'s compact JSON, which the part cache counts against its budget
    (``part_cache.BYTES_PER_CHAR``): orjson's UTF-8 bytes when it is installed, else the
    standard encoder's (ASCII) characters; the same but for non-ASCII text. Measuring every
    built part and shared piece with the standard encoder was 10-15% of a distinct screen's
    CPU (``benchmarks/bench_distinct.py``, profiled: issue 13, item 3)."""
    if orjson is not None:
        try:
            return len(orjson.dumps(plain))
        except TypeError:  # what orjson does not write (an int beyond 64 bits, a non-str key)
            pass
    return len(_COMPACT.encode(plain))


_COMPACT = json.JSONEncoder(separators=(",", ":"), check_circular=False)


def json_length(plain: Any, pieces: list[Wire] | None = None) -> int:
    """``json_size(plain)``, taking each ``Wire`` piece's known size instead of writing it
    out again: a feed of 20 cards is 60 KB of JSON, its frame a few hundred bytes.
    The pieces whose length was taken are added to ``pieces`` when given."""
    known: list[Wire] = []
    size = _orjson_frame_size(plain, known) if orjson is not None else None
    if size is None:
        known.clear()
        size = json_size(_frame(plain, known))
    if pieces is not None:
        pieces.extend(known)
    return size + sum(w.chars - 1 for w in known)  # each piece is "0"


def _orjson_frame_size(plain: Any, known: list[Wire]) -> int | None:
    """``json_size(_frame(plain, known))`` with orjson walking the part itself: it hands
    each dict or list subclass to ``default`` (``OPT_PASSTHROUGH_SUBCLASS``), which notes a
    ``Wire`` piece of known length and writes 0 for it (the walk in Python was 5% of a
    distinct screen's CPU, more than the dump). None when orjson cannot write the part."""

    def piece(value: Any) -> Any:
        if type(value) is Wire and value.chars is not None:
            known.append(value)
            return 0
        for kind in (dict, list, str, int, float):  # another subclass: as its base writes
            if isinstance(value, kind):
                return kind(value)
        raise TypeError(type(value).__name__)

    try:
        return len(orjson.dumps(plain, default=piece, option=orjson.OPT_PASSTHROUGH_SUBCLASS))
    except TypeError:
        return None


def _frame(value: Any, known: list[Wire]) -> Any:
    """``value`` with every Wire piece of known length replaced by 0 (the piece noted)."""
    if type(value) is Wire and value.chars is not None:
        known.append(value)
        return 0
    # Only containers are walked into: a call for every string and number cost twice a dump.
    if isinstance(value, dict):
        return {k: _frame(v, known) if isinstance(v, _NESTED) else v for k, v in value.items()}
    if isinstance(value, list):
        return [_frame(v, known) if isinstance(v, _NESTED) else v for v in value]
    return value


_NESTED = (dict, list)
_RULES: dict[type, tuple[frozenset[str], tuple[str, ...]]] = {}


def _prop_rule(component: Component) -> tuple[frozenset[str], tuple[str, ...]]:
    """A component class's prop names and wildcard prefixes (``data-``, ``aria-``); Dash sets
    them on each instance, the same for every instance of a class."""
    rule = _RULES.get(type(component))
    if rule is None:
        rule = _RULES[type(component)] = (frozenset(component._prop_names),
                                          tuple(component._valid_wildcard_attributes))
    return rule


class Tags:
    """A component library (``dash.html``) whose components come out in wire form:
    ``TAGS.Span("x", className="a")`` is ``to_plain(html.Span("x", className="a"))``, key
    for key and in the same order, for a tenth of the cost (Dash validates every prop of every
    component it makes, formatting an error message for each, measured 11 us a component).

    The values are taken as they are, so they must be plain already (strings, numbers, lists,
    dicts, other wire pieces): what the panels give. The props' order is Dash's, which comes
    from a ``set`` of the names passed (so it is fixed within a process, not across them): it
    is read once per class and way of calling, from one real component made then."""

    def __init__(self, library: Any):
        self._library = library

    def __getattr__(self, name: str) -> Callable[..., dict]:
        maker = _tag_maker(getattr(self._library, name))
        setattr(self, name, maker)  # found directly from now on
        return maker


def _tag_maker(kind: type[Component]) -> Callable[..., dict]:
    """A function that makes ``kind``'s wire form from the arguments ``kind`` takes."""
    orders: dict[tuple, tuple[str, ...]] = {}
    type_name, namespace = kind._type, kind._namespace

    def make(*children: Any, **props: Any) -> dict:
        key = (len(children), *props)
        order = orders.get(key)
        if order is None:  # the first call so: a real component, validated, gives the order
            real = kind(*children, **props)
            names, wild = _prop_rule(real)
            order = orders[key] = tuple(k for k in vars(real)
                                        if k in names or k.startswith(wild))
        if children:
            props["children"] = children[0]
        return {"props": {k: props.get(k) for k in order}, "type": type_name,
                "namespace": namespace}

    return make


TAGS = Tags(html)


class WireMemo:
    """Pieces in wire form by key, built once while in the ``size`` most recently used.

    With ``strong``, only the ``strong`` pieces made last are held here; the others are
    found while something else holds them (the cached parts that show them, counted in
    ``NPS_TV_CACHE_MB``), so the memo adds next to nothing to the memory budget.
    """

    def __init__(self, size: int, strong: int | None = None):
        self.size = size
        self.builds = 0
        self._items: OrderedDict[Hashable, Any] = OrderedDict()  # a piece, or a weak ref to one
        self._held: deque | None = deque(maxlen=strong) if strong is not None else None
        self._lock = threading.Lock()

    def get(self, key: Hashable, build: Callable[[], Component | dict]) -> Wire:
        """The piece for ``key``, built (and converted) on a miss; a piece built in wire form
        (a dict, made with ``TAGS``) is taken as it is."""
        return self._get(key, lambda: _as_wire(build()))

    def _get(self, key: Hashable, make: Callable[[], Any]) -> Any:
        with self._lock:
            found = self._items.get(key)
            if found is not None and self._held is not None:
                found = found()
            if found is not None:
                self._items.move_to_end(key)
                return found
        piece = make()
        with self._lock:
            self.builds += 1
            if self._held is None:
                self._items[key] = piece
            else:
                self._items[key] = weakref.ref(piece)
                self._held.append(piece)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return piece


def _as_wire(built: Component | dict) -> Wire:
    piece = Wire(built if type(built) is dict else to_plain(built))
    piece.chars = json_size(piece)
    return piece


class Held(list):
    """A list ``ValueMemo`` keeps: one a weak reference can point to (a plain list cannot)."""

    __slots__ = ("__weakref__",)


class ValueMemo(WireMemo):
    """Lists of plain values (a drawn panel's data pieces) by key, kept as ``WireMemo`` keeps
    wire pieces: only the ``strong`` made last held here. A piece a change left alone is the
    same object as before, which the diff passes by identity (``app.part_patch``). Never
    change a value taken from it."""

    def __init__(self, size: int = 8192, strong: int = 256):
        super().__init__(size, strong)

    def get(self, key: Hashable, make: Callable[[], list]) -> Held:  # type: ignore[override]
        return self._get(key, lambda: Held(make()))


class ObjectMemo:
    """What is made of an object, kept by the object's identity: the same object asks again
    without making it again (a comment or the findings a carried view hands every screen's
    stamp). It holds each object, so an id stays its object's; cleared when ``size`` are
    held."""

    def __init__(self, size: int = 4096):
        self.size = size
        self._made: dict[int, tuple[Any, Any]] = {}

    def get(self, obj: Any, make: Callable[[Any], Any]) -> Any:
        found = self._made.get(id(obj))
        if found is None or found[0] is not obj:
            if len(self._made) >= self.size:
                self._made.clear()
            found = self._made[id(obj)] = (obj, make(obj))
        return found[1]
