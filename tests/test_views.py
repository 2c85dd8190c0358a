"""View requests from URL parameters, and the size-bounded caches of views and parts."""

from __future__ import annotations

import csv
import gc
import json
import tracemalloc
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest

from app.ingest.rules import TimeRange
from app.part_cache import BYTES_PER_CHAR, PartCache
from app.poller import Poller
from app.segments import join_values, split_values
from app.services import get_services
from app.view_cache import ViewCache
from app.views import RequestError, ViewRequest
from app.web import create_app
from tests.conftest import make_record, poll, real_data

FIELDS = ("product", "region")


@pytest.mark.parametrize("window", ["٣٠d", "３０d", "𝟑𝟎d", "३०d", "3０d"])
def test_unicode_digits_in_the_window_are_refused(window):
    with pytest.raises(RequestError, match=r"^window: must be like 30d"):
        ViewRequest.parse({"window": window}, FIELDS, "30d")


@pytest.mark.parametrize(("name", "raw"), [
    ("from", "0001-01-01"), ("from", "1999-12-31"), ("to", "9999-12-31"),
    ("to", "2026-12-05"), ("from", "2026-12-04")])
def test_dates_outside_the_plausible_range_are_refused(name, raw):
    now = datetime(2026, 12, 2, 12, tzinfo=UTC)
    with pytest.raises(RequestError, match=rf"^{name}: must be between 2000-01-01 and "
                                           r"2026-12-03"):
        ViewRequest.parse({name: raw}, FIELDS, "30d", now=now)


def test_the_plausible_range_comes_from_the_settings(settings):
    bounds = TimeRange.from_settings(settings.replace(earliest_date="2020-01-01"))
    with pytest.raises(RequestError, match="^from: must be between 2020-01-01"):
        ViewRequest.parse({"from": "2019-12-31"}, FIELDS, "30d", bounds)
    ok = ViewRequest.parse({"from": "2020-01-01", "to": "2020-02-01"}, FIELDS, "30d", bounds)
    assert (ok.start, ok.end) == (date(2020, 1, 1), date(2020, 2, 1))


def test_the_api_refuses_unicode_digits_naming_the_field(client):
    response = client.get("/api/v1/summary", query_string={"window": "٣٠d"})
    assert response.status_code == 400
    assert "window" in response.get_data(as_text=True)
    assert client.get("/api/v1/summary", query_string={"from": "0001-01-01"}).status_code == 400


def _retained(fill) -> int:
    """Bytes still allocated after ``fill()`` returns (what the cache kept)."""
    gc.collect()
    tracemalloc.start()
    try:
        fill()
        gc.collect()
        return tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()


def test_view_cache_stays_within_its_byte_budget(sqlite_store, settings):
    now = datetime.now(UTC)
    sqlite_store.upsert_responses([make_record(i, i % 11, when=now - timedelta(days=i % 40),
                                               product=f"p{i % 5}") for i in range(200)])
    poller = Poller(sqlite_store, settings)
    poller.poll()
    cache = ViewCache(max_bytes=300_000)

    def fill():
        for k in range(60):  # long filter lists, as a hand-made URL could send
            values = tuple(f"{k:03d}-{'x' * 60}-{v}" for v in range(100))
            cache.get(poller.snapshot, ViewRequest(segments=(("product", values),)),
                      min_sample=5, tz="UTC", now=now)

    retained = _retained(fill)
    assert cache.bytes <= cache.max_bytes
    assert 0 < len(cache) < 60
    assert retained <= cache.max_bytes


def test_part_cache_stays_within_its_byte_budget():
    cache = PartCache(max_bytes=2_000_000)

    def fill():
        for version in range(40):
            cache.get((version, date(2026, 1, 1), f"dark?window={version}d"), ["trend"],
                      lambda name, v=version: f"{name}-{v}",
                      lambda name, v=version: {"data": [f"{v}" * 50_000]})

    retained = _retained(fill)
    assert cache.builds == 40
    assert cache.bytes <= cache.max_bytes
    assert retained <= cache.max_bytes


def test_part_cache_counts_a_part_reused_across_versions_once():
    cache = PartCache(max_bytes=10_000_000)
    for version in range(5):
        cache.get((version, date(2026, 1, 1), "dark?"), ["score"], lambda name: "same",
                  lambda name: {"html": "x" * 10_000})
    assert cache.builds == 1
    # One payload (BYTES_PER_CHAR times its JSON), six keys.
    assert BYTES_PER_CHAR * 10_000 <= cache.bytes < BYTES_PER_CHAR * 10_000 + 20_000


def test_part_cache_counts_a_piece_shared_by_many_parts_once():
    """A comment's card shown in 20 screens' feeds is one object in memory: the budget counts
    it once while any cached part holds it, and frees it with the last."""
    from app.wire import Plain, Wire, json_size

    card = Wire(props={"children": "x" * 10_000}, type="Div", namespace="dash_html_components")
    card.chars = json_size(card)
    cache = PartCache(max_bytes=10_000_000)
    for k in range(20):
        part = cache.get((1, date(2026, 1, 1), f"dark?k={k}"), ["comments"],
                         lambda name, k=k: f"fp{k}",
                         lambda name, k=k: Plain([card, f"screen {k}"]))["comments"]
        assert part.payload == [card, f"screen {k}"]
    assert cache.builds == 20
    piece = BYTES_PER_CHAR * card.chars
    assert piece <= cache.bytes < piece + 20 * 2_000  # was 20 times the piece
    cache.max_bytes = 0
    cache.get((2, date(2026, 1, 1), "dark?"), ["score"], lambda name: "fp", lambda name: "x")
    assert cache.bytes == 0 and not cache._pieces  # every part evicted, the piece with them


def test_a_part_fingerprint_that_reads_the_store_does_not_hold_the_part_cache():
    """A wall's score fingerprint reads the follow-up counts from the store (``app.parts``):
    another screen whose parts are cached must not wait for that read."""
    import threading

    cache = PartCache()
    day = date(2026, 1, 1)
    cache.get((1, day, "dark?b"), ["score"], lambda name: "fp-b", lambda name: "b")
    reading, release = threading.Event(), threading.Event()

    def slow_fingerprint(name: str) -> str:  # a store read that takes a while
        reading.set()
        release.wait(5)
        return "fp-a"

    slow = threading.Thread(target=cache.get, args=(
        (1, day, "dark?a"), ["score"], slow_fingerprint, lambda name: "a"))
    slow.start()
    try:
        assert reading.wait(5)
        done = threading.Event()
        other = threading.Thread(target=lambda: (cache.get(
            (1, day, "dark?b"), ["score"], lambda name: "fp-b", lambda name: "b"), done.set()))
        other.start()
        assert done.wait(1), "a cached screen waited for another screen's fingerprint"
    finally:
        release.set()
        slow.join(5)
    assert cache.builds == 2
    assert cache.get((1, day, "dark?a"), ["score"], lambda name: "x",
                     lambda name: "y")["score"].payload == "a"


def test_parts_are_kept_as_dash_sends_them():
    """Built once into plain JSON values, so no screen's answer encodes a component tree."""
    from dash import html
    from plotly.utils import PlotlyJSONEncoder

    cache = PartCache()
    import numpy as np

    built = html.Div([html.Span("Pricing", className="chip", **{"data-tone": "-"}), "a word",
                      {"y": np.array([1.5, 2]), "x": [date(2026, 1, 1)], "gap": float("nan"),
                       "n": np.int64(3)}], id="x")
    part = cache.get((1, date(2026, 1, 1), "dark?"), ["topics"], lambda name: "fp",
                     lambda name: built)["topics"]
    assert part.payload == json.loads(json.dumps(built, cls=PlotlyJSONEncoder))
    assert part.payload["props"]["children"][0]["props"]["className"] == "chip"
    json.dumps(part.payload)  # plain: the standard encoder needs no help


def test_cache_budgets_follow_the_cache_mb_setting(make_app):
    services = get_services(make_app(cache_mb=2.0))
    assert services.poller.views.max_bytes + services.parts.max_bytes == 2 * 2**20


def test_all_time_trend_of_a_short_burst_covers_the_data_by_day(env, make_app):
    """The R survey 2018 ran for a few weeks in 2018: its all-time trend spans those weeks."""
    from app.cli import main
    from app.panels.trend import build_trend_figure

    path = real_data("r-community-survey-2018.tsv")
    assert main(["import", str(path), "--score", "Qrecommend", "--time", "Qtime",
                 "--no-progress"]) == 0
    services = get_services(make_app())
    services.poller.poll()
    view = services.poller.view(ViewRequest(window="all"))
    assert view.start.year == 2018 and view.end < date(2019, 3, 1) and view.current.n == 3018
    span = (view.end - view.start).days + 1
    assert span < 60 and view.granularity == ("day" if span <= 45 else "week")
    assert len(view.trend) > 10, (view.start, view.end, view.granularity)
    axis = build_trend_figure(view, "dark")["layout"]["xaxis"]["range"]
    first, last = (datetime.fromisoformat(x).date() for x in axis)
    assert first <= view.start and first > view.start - timedelta(days=7)
    assert last > view.end and last < view.end + timedelta(days=7)


# -- segment values that hold commas ---------------------------------------------------------


@pytest.mark.parametrize("values", [["Ledger"], ["Ledger", "Pulse"], ["Korea, South"],
                                    ["Media, Journalism", "Media"], ["a\\b,", "\\", ",,"]])
def test_segment_values_round_trip_through_a_url_parameter(values):
    assert split_values(join_values(values)) == values
    assert ViewRequest.parse({"country": join_values(values)}, ("country",), "30d").segments \
        == (("country", tuple(sorted(set(values)))),)


def test_a_plain_comma_still_separates_values_as_before():
    assert split_values(" Ledger, Pulse ,,") == ["Ledger", "Pulse"]
    assert split_values("Media\\, Journalism,Media") == ["Media, Journalism", "Media"]
    # a backslash before anything else is its own, as links stored before wrote it
    assert split_values("A\\B,C\\") == ["A\\B", "C\\"]
    # in NFC, as stored values are: "Zürich" typed with a combining mark finds them
    assert split_values("Zu\u0308rich") == ["Z\u00fcrich"]


def test_a_real_value_holding_commas_is_filtered_as_one_value(settings, monkeypatch):
    """"Government Services (Federal, State, or Local)" (the R survey 2018's industry, real
    answers): the filter was cut at its commas into three values that match nothing (n=0), and
    "Media, Journalism" matched the segments "Media" and "Journalism" instead. A comma in a value
    is written ``\\,``, as the manager's dropdowns and the share links write it."""
    from app.cli import main
    from app.manager import build_query

    path = real_data("r-community-survey-2018.tsv")
    monkeypatch.setenv("NPS_TV_DATA_DIR", settings.data_dir)
    monkeypatch.setenv("NPS_TV_TOPICS_FILE", settings.topics_file)
    assert main(["import", str(path), "--score", "Qrecommend", "--time", "Qtime", "--segment",
                 "industry=Qindustry", "--no-progress"]) == 0
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = csv.reader(handle, delimiter="\t")
        header = next(rows)
        at, score = header.index("Qindustry"), header.index("Qrecommend")
        scored = Counter(row[at] for row in rows if row[score].strip().isdigit())
    government = "Government Services (Federal, State, or Local)"
    assert scored[government] > 100 and scored["Media, Journalism"] >= 1
    dash_app = create_app(settings.replace(segment_fields=("industry",)))
    poll(dash_app)
    client = dash_app.server.test_client()

    def n(*values: str) -> int:
        query = build_query({"window": "all"}, None, ["industry"], [list(values)])
        body = client.get("/api/v1/summary", query_string=query).get_json()
        return body["n"]

    assert n(government) == scored[government]
    assert n("Media, Journalism") == scored["Media, Journalism"]
    assert n(government, "Education") == scored[government] + scored["Education"]


def test_a_link_scoped_to_a_value_with_commas_does_not_widen_to_its_pieces():
    from app.scopes import LinkScope, OutOfScope, scoped_args

    scope = LinkScope(1, "manager", "industry=Media%5C%2C+Journalism",
                      (("industry", ("Media, Journalism",)),), (), False)
    assert split_values(scoped_args({}, scope, ("industry",))["industry"]) == [
        "Media, Journalism"]
    with pytest.raises(OutOfScope):
        scoped_args({"industry": "Media, Journalism"}, scope, ("industry",))  # two values
