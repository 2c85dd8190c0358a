"""Send only what moved (issue 13): the patch between two parts, applied to the old one,
gives the new one; ordinary changes stay under 10 KB; unknown parts are sent whole."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta

import pytest
from dash import Patch, no_update

from app import tv
from app.part_cache import Part
from app.part_patch import diff, size_of, to_json, to_patch
from app.patch_book import PatchBook
from app.services import get_services
from tests.conftest import make_record

BUDGET = 10 * 1024  # bytes per screen per ordinary change (issue 13)


def apply_patch(value, patch: Patch):
    """What dash-renderer does with a Patch (src/actions/patch.ts), for the operations the
    diff uses: Assign, Delete, Extend, Insert, Prepend."""
    holder = {"value": copy.deepcopy(value)}
    for op in patch.to_plotly_json()["operations"]:
        kind, params = op["operation"], op["params"]
        *parents, last = ["value", *op["location"]]
        if kind == "Assign" and last == "value" and not parents:
            raise AssertionError("a patch never replaces the whole value")
        node = holder
        for key in parents:
            node = node[key]
        if kind == "Assign":
            node[last] = params["value"]
        elif kind == "Delete":
            del node[last]
        elif kind == "Extend":
            node[last] = node[last] + params["value"]
        elif kind == "Prepend":
            node[last] = [params["value"], *node[last]]
        elif kind == "Insert":
            node[last].insert(params["index"], params["value"])
        else:
            raise AssertionError(f"unexpected operation {kind}")
    return holder["value"]


def card(i: int, text: str = "") -> dict:
    return {"type": "Div", "namespace": "dash_html_components",
            "props": {"className": "comment-card", "data-id": str(i),
                      "children": text or f"comment number {i} " * 8}}


def wire_card(i: int):
    """``card(i)`` as the part cache holds a comment's card: one ``Wire`` of known length."""
    from app.wire import Wire
    made = Wire(card(i))
    made.chars = len(json.dumps(made, separators=(",", ":")))
    return made


def feed(ids: list[int]) -> list:
    cards = [card(i) for i in ids]
    clone = {"type": "Div", "namespace": "dash_html_components",
             "props": {"className": "comments-clone", "children": copy.deepcopy(cards)}}
    return [{"type": "Div", "namespace": "dash_html_components",
             "props": {"className": "comments-track", "children": [*cards, clone]}}]


CASES = {
    "a changed text": ({"a": "old", "b": [1, 2]}, {"a": "new", "b": [1, 2]}),
    "a key gone and one added": ({"a": 1, "b": 2}, {"a": 1, "c": 3}),
    "points appended": ({"x": list(range(30)), "y": [1.5] * 30},
                        {"x": list(range(32)), "y": [1.5] * 29 + [2.0, 3.0, 4.0]}),
    "a window sliding": (list(range(40)), list(range(3, 45))),
    "a feed's new card, the oldest dropped, twice in a track": (
        feed(list(range(20, 0, -1))), feed([22, 21, *range(20, 2, -1)])),
    "lists of other lengths": ([[1, 2], [3]], [[1, 2, 3]]),
    "types changing": ({"a": [1, 2]}, {"a": {"b": None}}),
}


@pytest.mark.parametrize("name", CASES)
def test_applying_the_patch_to_the_old_value_gives_the_new(name):
    old, new = CASES[name]
    ops = diff(old, new)
    assert ops
    assert apply_patch(old, to_patch(ops)) == new


def test_a_feeds_new_cards_cost_about_those_cards_twice():
    old, new = CASES["a feed's new card, the oldest dropped, twice in a track"]
    sent = size_of(to_patch(diff(old, new)).to_plotly_json())
    # Two new cards, in the track and its clone, and four deletions: not the 40 cards.
    assert 4 * size_of(card(1)) < sent < 8 * size_of(card(1))
    assert sent < size_of(new) / 4


def test_equal_values_need_no_operation():
    assert diff({"a": [1, {"b": 2}]}, {"a": [1, {"b": 2}]}) == []


def test_an_unknown_or_unchanged_part_and_a_patch_not_smaller(monkeypatch):
    book = PatchBook()
    first, second = Part("f1", {"a": "x" * 500}), Part("f2", {"a": "y" * 500})
    assert book.answer("key", "score", None, first) is first.payload  # the screen has none
    assert book.answer("key", "score", "someone-elses", second) is second.payload
    # Everything changed: the patch would be no smaller than the part.
    assert book.answer("key", "score", "f1", second) is second.payload
    third = Part("f3", {"a": "y" * 500, "b": 1})
    patch = book.answer("key", "score", "f2", third)
    assert isinstance(patch, Patch)
    assert apply_patch(to_json(second.payload), patch) == to_json(third.payload)
    # Another data key never patches from this one's parts.
    assert book.answer("other", "score", "f2", third) is third.payload


def test_the_book_is_bounded():
    book = PatchBook(keys_max=3, keep=2)
    for key in range(10):
        for version in range(5):
            book.remember(f"screen-{key}", "score", Part(f"fp{version}", {"v": version}))
    assert len(book._trees) == 3  # noqa: SLF001
    assert all(len(trees) == 2 for trees in book._trees.values())  # noqa: SLF001


def test_the_book_keeps_the_parts_of_many_screens_within_its_bytes():
    """Four parts of each of 512 screens fit by count (160 distinct screens were over the
    old 512 places); memory is bounded by the parts' own bytes, a shared card not counted."""
    from app.part_cache import BYTES_PER_CHAR
    from app.wire import Wire
    shared = Wire({"card": "x" * 5000})
    shared.chars = len(json.dumps(shared, separators=(",", ":")))
    book = PatchBook()
    for screen in range(160):
        for name in ("score", "trend", "topics", "comments"):
            book.remember(f"screen-{screen}", name, Part("f1", {"v": [screen, shared]}))
    assert len(book._trees) == 640  # noqa: SLF001 - none pushed out
    own = len(json.dumps({"v": [0, 0]}, separators=(",", ":")))
    assert book.bytes <= 640 * BYTES_PER_CHAR * (own + 2)  # the card counted in none
    small = PatchBook(max_bytes=100 * BYTES_PER_CHAR * 20)
    for screen in range(300):
        for version in range(4):
            small.remember(f"screen-{screen}", "score",
                           Part(f"fp{version}", {"v": "y" * 10, "n": version}))
    assert small.bytes <= small.max_bytes
    assert 20 <= len(small._trees) < 300  # noqa: SLF001 - about 3 versions of 138 bytes
    assert small.bytes == sum(small._sizes.values())  # noqa: SLF001


@pytest.fixture
def services(make_app, sqlite_store):
    now = datetime.now(UTC)
    sqlite_store.upsert_responses([
        make_record(i, [10, 9, 8, 3, 7, 6][i % 6], when=now - timedelta(days=i % 28, hours=3),
                    comment=f"Support and pricing note {i}" if i % 2 else None,
                    product="Ledger" if i % 2 else "Pulse", region="EMEA")
        for i in range(300)])
    dash_app = make_app(store=sqlite_store)
    services = get_services(dash_app)
    services.poller.poll()
    return services


def test_the_wall_sends_patches_that_rebuild_each_part_within_budget(services):
    config = {"query": {"dwell": "10"}}
    names = tv.PAGE.output_names()
    first = tv.run_update(services, config, None)
    have = {name: to_json(value) for name, value in zip(names, first, strict=False)
            if value is not no_update}
    state = first[-2]
    for i, score in enumerate([10, 2, 8]):
        services.store.upsert_responses([make_record(5000 + i, score, when=datetime.now(UTC),
                                                     comment="The new one", product="Ledger",
                                                     region="EMEA")])
        services.poller.poll()
        outputs = tv.run_update(services, config, state)
        state = outputs[-2]
        sent = 0
        for name, value in zip(names, outputs, strict=False):
            if value is no_update:
                continue
            if isinstance(value, Patch):
                have[name] = apply_patch(have[name], value)
                sent += size_of(value.to_plotly_json())
            else:
                have[name] = to_json(value)
                sent += size_of(value)
        whole = tv.run_update(services, config, None)  # a new screen: every part whole
        for name, value in zip(names, whole, strict=False):
            if value is not no_update:
                assert have[name] == to_json(value), name
        assert any(isinstance(v, Patch) for v in outputs)
        assert sent + len(json.dumps(outputs[-1])) + len(json.dumps(state)) <= BUDGET


# --- the diff's cost on a distinct screen's parts (issue 13, item 3) ---------------------

def random_tree(rng, depth: int = 0):
    """A JSON value like a part: nested component dicts and lists of them, some scalars."""
    kind = rng.random()
    if depth > 3 or kind < 0.3:
        return rng.choice([rng.randint(0, 9), f"t{rng.randint(0, 5)}", None, 1.5, True])
    if kind < 0.65:
        return [random_tree(rng, depth + 1) for _ in range(rng.randint(0, 6))]
    return {"props": {"children": random_tree(rng, depth + 1),
                      "className": f"c{rng.randint(0, 3)}"},
            "type": "Div", "namespace": "dash_html_components"}


def mutate(rng, value):
    """``value`` with a few changes: leaves rewritten, list items inserted, dropped, moved."""
    if isinstance(value, dict):
        out = {k: (mutate(rng, v) if rng.random() < 0.5 else v) for k, v in value.items()}
        if rng.random() < 0.1:
            out["extra"] = rng.randint(0, 3)
        return out
    if isinstance(value, list):
        out = [mutate(rng, v) if rng.random() < 0.3 else v for v in value]
        roll = rng.random()
        if roll < 0.2:
            out.insert(rng.randint(0, len(out)), random_tree(rng, 2))
        elif roll < 0.35 and out:
            out.pop(rng.randrange(len(out)))
        elif roll < 0.5 and len(out) > 1:
            out.insert(0, out.pop())  # a shift: the newest first
        elif roll < 0.6 and len(out) > 1:
            i, j = rng.sample(range(len(out)), 2)
            out[i], out[j] = out[j], out[i]
        return out
    return random_tree(rng, 3) if rng.random() < 0.3 else value


@pytest.mark.parametrize("seed", range(6))
def test_random_changes_patch_back_exactly(seed):
    """The diff's shortcuts (in-place pairing, shared sub-diffs, prefix and suffix kept by
    place) never change what the patch makes: applied to the old value it gives the new."""
    import random

    from app.part_patch import remembering
    rng = random.Random(seed)
    for _ in range(150):
        old = [random_tree(rng) for _ in range(rng.randint(1, 4))]
        new = mutate(rng, old)
        with remembering():
            ops = diff(old, new)
        if ops:
            assert apply_patch(to_json(old), to_patch(ops)) == to_json(new)
            # Written at once, the operations are what Patch's own methods write.
            assert to_patch(ops).to_plotly_json() == by_proxy(ops).to_plotly_json()
        else:
            assert to_json(old) == to_json(new)


def by_proxy(ops) -> Patch:
    """The operations through ``Patch``'s own methods, as ``to_patch`` wrote them before."""
    patch = Patch()
    for kind, path, value in ops:
        node = patch
        for key in path[:-1]:
            node = node[key]
        if kind == "assign":
            node[path[-1]] = value
        elif kind == "delete":
            del node[path[-1]]
        else:  # a list's own operation, on the part itself when the path is empty
            target = node[path[-1]] if path else patch
            if kind == "insert":
                target.insert(*value)
            else:
                getattr(target, kind)(value)
    return patch


def test_the_diff_visits_each_pair_once_however_deep():
    """A replaced block is paired from both ends, and a list is diffed both item by item and
    as an edit script: without sharing those sub-diffs, each level doubled the work below it
    (a 5 KB score panel took ~900 diff calls, 2 ms, per distinct screen per change)."""
    import app.part_patch as part_patch
    from app.part_patch import remembering

    def nest(leaf, depth):
        value = leaf
        for level in range(depth):
            value = [f"a{level}", {"props": {"children": value}}, f"b{level}"]
        return value

    calls = 0
    inner = part_patch.diff

    def counting(*args):
        nonlocal calls
        calls += 1
        return inner(*args)

    part_patch.diff = counting  # every level calls it through the module
    try:
        with remembering():
            ops = counting(nest("old", 12), nest("new", 12))
    finally:
        part_patch.diff = inner
    # The leaf's few levels are written again as one small node, not walked (SMALL_NODE).
    (kind, path, value), = ops
    leaf = (*([1, "props", "children"] * 12),)
    assert kind == "assign" and leaf[:len(path)] == path and len(path) >= len(leaf) // 2
    assert part_patch.size_of(value) <= part_patch.SMALL_NODE and "new" in repr(value)
    assert calls <= 6 * 12, calls  # about 5 a level (memo hits too); it was 2,922,921


def test_shared_pieces_are_not_written_out_to_be_compared(monkeypatch):
    """A comment's card is one ``Wire`` object in both versions of a feed: the book keeps
    the part as built, so the diff matches cards by identity and takes their known length,
    never writing a card out as JSON (it was most of a feed's diff)."""
    import app.part_patch as part_patch
    from app.wire import Wire

    cards = {i: wire_card(i) for i in range(12)}

    def wire_feed(ids):
        return [{"props": {"children": [cards[i] for i in ids]}, "type": "Div",
                 "namespace": "dash_html_components"}]

    written = []
    real = getattr(part_patch, "_compact", None)
    monkeypatch.setattr(part_patch, "_compact",
                        lambda value, sort_keys=False: written.append(value) or real(
                            value, sort_keys), raising=False)
    book = PatchBook()
    first = Part("one", wire_feed(list(range(10))))
    second = Part("two", wire_feed([11, 10, *range(8)]))
    assert book.remember("k", "comments", first) is first.payload
    patch = book.answer("k", "comments", "one", second)
    assert isinstance(patch, Patch)
    assert apply_patch(to_json(first.payload), patch) == to_json(second.payload)
    assert not any(type(value) is Wire for value in written)


def test_a_feeds_scrolling_clone_is_diffed_where_it_is(monkeypatch):
    """The wall's feed holds its cards twice: in the track and in the clone that scrolls
    after them. A new card changes the clone, which was then keyed by its whole JSON (60 KB
    written out for old and new) and paired with the dropped card beside it as a replaced
    block, both ways: most of a feed's diff (1.2-1.5 ms). A component that is once in each
    list (its type, id and class) is now matched by its place and diffed there."""
    import app.part_patch as part_patch
    from app.part_patch import remembering

    cards = {i: wire_card(i) for i in range(30)}

    def wire_feed(ids):
        shown = [cards[i] for i in ids]
        clone = {"type": "Div", "namespace": "dash_html_components",
                 "props": {"className": "comments-clone", "children": list(shown)}}
        return [{"type": "Div", "namespace": "dash_html_components",
                 "props": {"className": "comments-track", "children": [*shown, clone]}}]

    written: list[int] = []
    replaced: list[tuple] = []
    real_compact, real_replace = part_patch._compact, part_patch._replace
    monkeypatch.setattr(part_patch, "_compact", lambda value, sort_keys=False: written.append(
        len(real_compact(value, sort_keys))) or real_compact(value, sort_keys))
    monkeypatch.setattr(part_patch, "_replace", lambda *args: replaced.append(args[3]) or
                        real_replace(*args))
    old, new = wire_feed(list(range(20, 0, -1))), wire_feed([21, *range(20, 1, -1)])
    with remembering():
        ops = part_patch.diff(old, new)
    assert apply_patch(to_json(old), to_patch(ops)) == to_json(new)
    assert sorted(kind for kind, _, _ in ops) == ["delete", "delete", "insert", "insert"]
    assert replaced == []  # no block paired both ways
    assert sum(written) < cards[1].chars  # nothing as large as one card written out


def keyed_row(topic: str, count: int) -> dict:
    """A topic table's row as ``panels.topics`` makes it: keyed by its topic."""
    cells = [{"props": {"children": text, "className": f"topic-cell c{i}"}, "type": "Div",
              "namespace": "dash_html_components"}
             for i, text in enumerate((topic, str(count), f"{count}%", f"+{count / 10:.1f}"))]
    return {"props": {"children": cells, "className": "topic-row", "key": topic},
            "type": "Div", "namespace": "dash_html_components"}


def test_keyed_rows_that_moved_are_moved_not_rewritten_cell_by_cell(monkeypatch):
    """A response that lifts one topic above another reorders the table: rows paired by
    their place (another topic's row) had every cell rewritten and were diffed three ways
    (by place, and a replaced block from either end: 300-900 us a screen). Rows keyed by
    their topic are diffed with their own old row, and a row that moved is removed and
    inserted whole, with no pairing of different topics' rows."""
    import app.part_patch as part_patch
    from app.part_patch import remembering

    old = [keyed_row(t, n) for t, n in (("Price", 40), ("Speed", 30), ("Support", 20),
                                        ("Setup", 10), ("Docs", 5))]
    new = [keyed_row(t, n) for t, n in (("Price", 40), ("Support", 35), ("Speed", 30),
                                        ("Setup", 11), ("Docs", 5))]
    paired: list[tuple] = []
    inner = part_patch._diff

    def noting(a, b, path):
        if isinstance(a, dict) and a.get("props", {}).get("className") == "topic-row":
            paired.append((a["props"]["key"], b["props"]["key"]))
        return inner(a, b, path)

    monkeypatch.setattr(part_patch, "_diff", noting)
    with remembering():
        ops = part_patch.diff(old, new)
    assert apply_patch(old, to_patch(ops)) == new
    assert paired and all(a == b for a, b in paired), paired  # a row only with its own
    moved = [value[1]["props"]["key"] for kind, _, value in ops if kind == "insert"]
    assert len(moved) == 1 and moved[0] in ("Speed", "Support")
    # A newcomer that pushes the last topic out takes its place: removed and inserted, not
    # the old row rewritten cell by cell into the new one (its key assigned).
    paired.clear()
    pushed = [*new[:4], keyed_row("Billing", 6)]
    with remembering():
        ops = part_patch.diff(new, pushed)
    assert apply_patch(new, to_patch(ops)) == pushed
    assert all(a == b for a, b in paired), paired
    assert not any(path[-1:] == ("key",) for _, path, _ in ops), ops


def test_the_topic_table_s_rows_carry_their_topic_as_key(services):
    """The keys the diff goes by come from the panel (a React key): the manager's table, made
    of components (the wall's is data, ``topics.build_wall_table``)."""
    from app.panels.registry import find_part
    from app.views import ViewRequest

    services.store.upsert_responses([make_record(i, s, comment=c)
                                     for i, (s, c) in enumerate(
                                         [(10, "Great support team"), (2, "Too expensive"),
                                          (9, "Fast and easy setup")] * 4)])
    services.poller.poll()
    view = services.poller.view(ViewRequest(window="all"))
    panel, surface = find_part("topics.manager")
    table = panel.build(view, panel.context(surface, "dark", "UTC", (), None))[0]
    rows = [row for row in table["props"]["children"] if row["props"].get("key") is not None]
    assert [row["props"]["key"] for row in rows] == [row.topic for row in view.topics[:8]]
    assert len(rows) >= 2


def test_wire_text_is_the_json_dash_sends_and_falls_back_for_what_orjson_cannot_write():
    from app.part_patch import wire_text
    value = {"a": ["é ✓", 1.5, None, True, {"b": 2}], "big": 2**70}
    text = wire_text(value)  # an int past 64 bits: the standard encoder
    assert json.loads(text) == value and "é ✓" in text
    small = {"a": ["é ✓", 0.1, 10**18]}
    assert json.loads(wire_text(small)) == small and " " not in wire_text(small).replace(
        "é ✓", "")
