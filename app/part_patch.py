"""Send only what moved (issue 13): a screen that has a part gets a Dash ``Patch`` from it to
the new one (the trend's last points, the feed's new items, a changed text), not the whole
part again; figure layouts stay on the client.

``app.patch_book.PatchBook`` keeps the parts screens were sent and the patches between them.

The diff works on the parts' JSON: dicts key by key; lists item by item, or as an edit
script (items inserted and removed where they are: a feed's new cards, the oldest dropped;
a component once in each list matched by its type, id, class and React key and diffed where
it is; keyed items that moved removed and inserted, never paired with another's), whichever
is smaller; a node whose operations would outweigh it is assigned whole.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from difflib import SequenceMatcher
from typing import Any

from dash import Patch
from plotly.utils import PlotlyJSONEncoder

from app.wire import Wire, json_length, orjson

OP_OVERHEAD = 48  # bytes an operation costs beside its value, about
SMALL_NODE = 2 * OP_OVERHEAD  # a list or dict this small (JSON) is assigned whole if changed
Path = tuple[str | int, ...]
Op = tuple[str, Path, Any]  # ("assign" | "delete" | "extend" | "insert", location, value)


def dumps(value: Any, **options: Any) -> str:
    """JSON text of ``value``: parts are kept in wire form (``app.wire``), plain values the C
    encoder writes at once; anything else (a component tree) goes through Plotly's."""
    try:
        return json.dumps(value, allow_nan=False, **options)
    except (TypeError, ValueError):
        return json.dumps(value, cls=PlotlyJSONEncoder, **options)


def wire_text(value: Any) -> str:
    """``value``'s compact JSON as Dash sends it, non-ASCII as it is (a part's outputs,
    written once per place and change)."""
    text = _compact(value)
    return text.decode() if isinstance(text, bytes) else text


def to_json(payload: Any) -> Any:
    """A part as the browser receives it (components as their JSON)."""
    return json.loads(dumps(payload))


def _compact(value: Any, sort_keys: bool = False) -> str | bytes:
    """``value``'s compact JSON, non-ASCII as it is (keys sorted when asked): orjson's bytes
    when it can write it, else the standard encoder's text (a component, an int beyond 64
    bits, a non-text key; that encoder was most of a distinct screen's answer)."""
    if orjson is not None:
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS if sort_keys else 0)
        except TypeError:
            pass
    return dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys)


def size_of(value: Any) -> int:
    """About the length of ``value``'s compact JSON: ``Wire`` pieces of known length (a
    comment's card) are not written out again (``wire.json_length``), at every level of a
    feed the diff measures."""
    if type(value) is Wire and value.chars is not None:  # measured once, when made
        return value.chars
    if isinstance(value, (dict, list)):
        return _remembered("size", value, lambda: json_length(value))
    return len(_compact(value))


_memo = threading.local()


def _remembered(kind: str, value: Any, compute: Callable[[], Any]) -> Any:
    """``compute()``, once per (kind, value) while ``remembering``: a diff sizes and keys the
    same nested nodes at every level above them (the value is held, so its id stays its)."""
    table = getattr(_memo, "table", None)
    if table is None:
        return compute()
    key = (kind, id(value))
    hit = table.get(key)
    if hit is None:
        hit = table[key] = (value, compute())
    return hit[1]


@contextmanager
def remembering() -> Iterator[None]:
    """Remember sizes and item keys for the diffs run inside (one thread's)."""
    outer = getattr(_memo, "table", None)
    if outer is None:
        _memo.table = {}
    try:
        yield
    finally:
        if outer is None:
            _memo.table = None


def ops_size(ops: list[Op]) -> int:
    return sum(_op_size(op) for op in ops)


def _op_size(op: Op) -> int:
    """One operation's size; the same operation is measured at every level above it (an
    insert's item by itself: a card's length is known, the pair's was written out)."""
    kind, path, value = op
    return _remembered("op", op, lambda: OP_OVERHEAD + len(repr(path)) + (
        0 if value is None else len(str(value[0])) + size_of(value[1]) if kind == "insert"
        else size_of(value)))


def diff(old: Any, new: Any, path: Path = ()) -> list[Op]:
    """The operations that turn ``old`` into ``new`` (both JSON values; the list returned
    may be shared: never change it)."""
    if old is new or old == new:  # pieces shared across versions (a comment's card) are one
        return []
    if isinstance(old, (dict, list)) and isinstance(new, (dict, list)):
        if path and size_of(new) <= SMALL_NODE:
            # Two operations inside cost more than writing it again: a topic row's cell
            # ([text, class]) or a score's piece is assigned, not walked (five calls a level).
            return [("assign", path, new)]
        # A list's edit script and its item-by-item pairing, and a replaced block paired
        # from either end, diff the same pairs at the same places: once each, not once per
        # way of pairing at every level above (a score panel's 5 KB took ~900 calls, 2 ms).
        table = getattr(_memo, "table", None)
        if table is not None:
            key = ("diff", id(old), id(new), path)
            hit = table.get(key)
            if hit is None:
                hit = table[key] = (old, new, _diff(old, new, path))
            return hit[2]
    return _diff(old, new, path)


def _diff(old: Any, new: Any, path: Path) -> list[Op]:
    if isinstance(old, dict) and isinstance(new, dict):
        ops = [("delete", (*path, key), None) for key in old if key not in new]
        for key, value in new.items():
            if key not in old:
                ops.append(("assign", (*path, key), value))
                continue
            was = old[key]
            if was is value or was == value:
                continue  # most props of a node stay: no call to find that out
            ops += diff(was, value, (*path, key))
    elif isinstance(old, list) and isinstance(new, list):
        ops = _list_diff(old, new, path)
    else:
        return [("assign", path, new)]
    if len(ops) > 1 and path and ops_size(ops) >= size_of(new) + OP_OVERHEAD:
        return [("assign", path, new)]  # rewriting the whole node is no bigger
    return ops


def _list_diff(old: list, new: list, path: Path) -> list[Op]:
    if len(new) > len(old) and new[:len(old)] == old:
        return [("extend", path, new[len(old):])]
    if len(new) == len(old) and _in_place(old, new):
        return _item_diff(old, new, path)
    moved, settled = _list_edit(old, new, path)
    if settled or (moved is not None and any(
            _react_key(a) != _react_key(b) for a, b in zip(old, new, strict=False))):
        # Whole items inserted and removed (a feed's new cards), or the items kept moved, or
        # keyed items in another's place: pairing the items by position would diff every
        # shifted pair to send more, or pair one topic's row with another's.
        return moved
    options = [_item_diff(old, new, path)] + ([moved] if moved is not None else [])
    return min(options, key=ops_size) if len(options) > 1 else options[0]


def _in_place(old: list, new: list, most: int = 8) -> bool:
    """Whether a few items changed where they are and none moved (no changed item is now
    another changed place's old item): then pairing items by place is the diff, and the
    edit script (keys for every item, a sequence match) would only find the same pairs."""
    changed = [i for i in range(len(new)) if old[i] != new[i]]
    if len(changed) > most or any(_react_key(old[i]) != _react_key(new[i]) for i in changed):
        return False  # a keyed item (a topic's row) that is now another's place moved
    return not any(new[i] == old[j] for i in changed for j in changed if i != j)


def _react_key(item: Any) -> Any:
    """A component's ``key`` prop (what React, and the diff, tell its items apart by), or
    None."""
    if type(item) is not dict and type(item) is not Wire:
        return None
    props = item.get("props")
    return props.get("key") if type(props) is dict else None


def _list_edit(old: list, new: list, path: Path) -> tuple[list[Op] | None, bool]:
    """Items inserted and removed where they were (a feed's new cards at the top, the oldest
    dropped at the end): the list's edit script, from
    its end so every index stays valid (None when the lists share no item), and whether it
    is the one to send: it only inserts and removes whole items, or the items it keeps moved
    (so pairing items by position would pair different ones). Items equal at the start and
    the end (most of a feed or a figure's points) are matched by their place."""
    shared = min(len(old), len(new))
    head = next((i for i in range(shared) if old[i] != new[i]), shared)
    tail = next((i for i in range(shared - head) if old[-1 - i] != new[-1 - i]), shared - head)
    a, b = _keys(old, new, head, tail)
    opcodes = SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    if not any(tag == "equal" for tag, *_ in opcodes):
        return None, False
    ops: list[Op] = []
    for tag, i1, i2, j1, j2 in reversed(opcodes):
        if tag == "equal":
            # A component keyed by its place (``_node_key``) may have changed: diffed here.
            ops += [op for k in range(i2 - i1) if a[i1 + k][0] == "node"
                    for op in diff(old[i1 + k], new[j1 + k], (*path, i1 + k))]
            continue
        if tag == "replace":
            ops += min(_replace(old, new, path, (i1, i2, j1, j2), True),
                       _replace(old, new, path, (i1, i2, j1, j2), False), key=ops_size)
            continue
        ops += [("delete", (*path, i), None) for i in range(i2 - 1, i1 - 1, -1)]
        ops += [("insert", path, (i1 + k, new[j1 + k])) for k in range(j2 - j1)]
    pure = not any(tag == "replace" for tag, *_ in opcodes)
    shifted = any(tag == "equal" and i1 != j1 for tag, i1, _i2, j1, _j2 in opcodes)
    return ops, pure or shifted


def _keys(old: list, new: list, head: int, tail: int) -> tuple[list, list]:
    """Both lists' item keys (the first ``head`` and last ``tail``, equal in both, by place):
    a component once in each list's middle by ``_node_key``, so a changed one (a container
    of cards, as the feed's loop copy was) is diffed where it is, not written out whole and
    paired both ways with its neighbours (most of a feed's 1.2-1.5 ms diff then); the others
    by ``_item_key``."""
    ends = ([("head", i) for i in range(head)], [("tail", i) for i in range(tail, 0, -1)])
    middles = (old[head:len(old) - tail], new[head:len(new) - tail])
    nodes = [[_node_key(item) for item in middle] for middle in middles]
    once = [{key for key, n in Counter(keys).items() if n == 1 and key is not None}
            for keys in nodes]
    unique = once[0] & once[1]
    keyed = [[key if key in unique else _item_key(item)
              for item, key in zip(middle, keys, strict=True)]
             for middle, keys in zip(middles, nodes, strict=True)]
    return ends[0] + keyed[0] + ends[1], ends[0] + keyed[1] + ends[1]


def _node_key(item: Any) -> tuple | None:
    """A component's type, id, class and key (None without any of those, or not one)."""
    if type(item) is not dict and type(item) is not Wire:
        return None
    props, kind = item.get("props"), item.get("type")
    if type(props) is not dict or type(kind) is not str:
        return None
    ident, css, key = props.get("id"), props.get("className"), props.get("key")
    if ident is None and css is None and key is None:
        return None
    return ("node", kind, repr(item.get("namespace")), repr(ident), repr(css), repr(key))


def _item_key(item: Any) -> Any:
    """What tells a list's items apart: a piece built once for every screen (``Wire``, a
    comment's card) is the same object in both versions, so its identity; else its JSON."""
    if type(item) is Wire:
        return ("wire", id(item))
    return _remembered("key", item, lambda: _compact(item, sort_keys=True))


def _replace(old: list, new: list, path: Path, block: tuple[int, int, int, int],
             at_end: bool) -> list[Op]:
    """``old[i1:i2]`` becoming ``new[j1:j2]``: the items paired from the block's end (or its
    start) are diffed, the rest removed or inserted at the other end."""
    i1, i2, j1, j2 = block
    paired = min(i2 - i1, j2 - j1)
    o1, n1 = (i2 - paired, j2 - paired) if at_end else (i1, j1)
    if any(_react_key(old[o1 + k]) != _react_key(new[n1 + k]) for k in range(paired)):
        paired = 0  # keyed items (topics' rows) that moved: removed and inserted, not paired
        o1, n1 = (i2, j2) if at_end else (i1, j1)
    ops = [op for k in range(paired) for op in diff(old[o1 + k], new[n1 + k], (*path, o1 + k))]
    gone = range(i1, i2 - paired) if at_end else range(i1 + paired, i2)
    ops += [("delete", (*path, i), None) for i in reversed(gone)]
    first, items = (i1, new[j1:j2 - paired]) if at_end else (i1 + paired, new[j1 + paired:j2])
    return ops + [("insert", path, (first + k, item)) for k, item in enumerate(items)]


def _item_diff(old: list, new: list, path: Path) -> list[Op]:
    common = min(len(old), len(new))
    ops = [op for i in range(common) if old[i] is not new[i] and old[i] != new[i]
           for op in diff(old[i], new[i], (*path, i))]
    if len(new) > common:
        ops.append(("extend", path, new[common:]))
    ops += [("delete", (*path, i), None) for i in range(len(old) - 1, common - 1, -1)]
    return ops


def to_patch(ops: list[Op]) -> Patch:
    """The Dash ``Patch`` of a list of operations: its operations as ``Patch``'s own methods
    write them (``tests/test_part_patch.py`` compares), written at once; through its
    proxies, a ``Patch`` made per step of every path, it was 5% of a distinct screen's CPU."""
    patch = Patch()
    out = patch._operations
    for kind, path, value in ops:
        if kind == "assign":
            out.append({"operation": "Assign", "location": list(path),
                        "params": {"value": value}})
        elif kind == "delete":
            out.append({"operation": "Delete", "location": list(path), "params": {}})
        elif kind == "insert":  # a list's own operation, on the part itself when path is ()
            index, item = value
            out.append({"operation": "Insert", "location": list(path),
                        "params": {"value": item, "index": index}})
        else:
            out.append({"operation": "Extend", "location": list(path),
                        "params": {"value": value}})
    return patch
