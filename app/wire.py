"""Page parts in the form Dash sends them: plain dicts, lists, strings and numbers.

Encoding a Dash component tree (``Component.to_plotly_json`` through Plotly's encoder) costs
about as much as building it. Parts are converted once, when built (``app.part_cache``), and
pieces that many screens show alike (a comment's card) once for all of them (``WireMemo``).
"""

from __future__ import annotations

import json
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from dash.development.base_component import Component
from plotly.utils import PlotlyJSONEncoder


class Wire(dict):
    """A piece already in wire form: ``to_plain`` passes it on as it is (never mutate one)."""


def to_plain(value: Any) -> Any:
    """``value`` as the JSON Dash would send, without a Plotly encoder round trip: a component
    becomes ``{"props", "type", "namespace"}`` as ``Component.to_plotly_json`` makes it (with
    the props it holds), a non-finite float ``None`` as Plotly's encoder writes it."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if type(value) is Wire:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, Component) and type(value).to_plotly_json is Component.to_plotly_json:
        names, wild = _prop_rule(value)
        return {"props": {k: to_plain(v) for k, v in vars(value).items()
                          if k in names or k.startswith(wild)},
                "type": value._type, "namespace": value._namespace}
    # Anything else (numpy values, dates, components with their own JSON) the slow, sure way.
    return json.loads(json.dumps(value, cls=PlotlyJSONEncoder))


_RULES: dict[type, tuple[frozenset[str], tuple[str, ...]]] = {}


def _prop_rule(component: Component) -> tuple[frozenset[str], tuple[str, ...]]:
    """A component class's prop names and wildcard prefixes (``data-``, ``aria-``); Dash sets
    them on each instance, the same for every instance of a class."""
    rule = _RULES.get(type(component))
    if rule is None:
        rule = _RULES[type(component)] = (frozenset(component._prop_names),
                                          tuple(component._valid_wildcard_attributes))
    return rule


class WireMemo:
    """Pieces in wire form by key, built once while in the ``size`` most recently used."""

    def __init__(self, size: int):
        self.size = size
        self.builds = 0
        self._items: OrderedDict[Hashable, Wire] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, build: Callable[[], Component]) -> Wire:
        """The piece for ``key``, built (and converted) on a miss."""
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                return found
        piece = Wire(to_plain(build()))
        with self._lock:
            self.builds += 1
            self._items[key] = piece
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return piece
