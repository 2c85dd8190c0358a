"""The wall's live update and URL settings, on a real app over a temporary store."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

import psycopg
import pytest
from dash import Patch, no_update
from sqlalchemy.exc import OperationalError

from app import live_status, manager, tv
from app.panels.registry import panel_names
from app.part_patch import to_json
from app.screen import describe_request, parse_screen
from app.services import get_services
from app.views import ViewRequest
from app.web import create_app
from tests.conftest import make_record, wall_poll_body
from tests.test_part_patch import apply_patch

DEFAULT_PARTS = (*panel_names(), "latest")
PANELS = len(panel_names())  # the manager's outputs: one per panel, then the subtitle


@pytest.fixture
def services(settings, sqlite_store):
    """The services of an app whose store holds a month of responses and one event."""
    now = datetime.now(UTC)
    records = [make_record(i, score, when=now - timedelta(days=i % 25, hours=2, minutes=i),
                           comment="Support was quick" if i % 4 == 0 else None,
                           product="Ledger" if i % 2 else "Pulse", region="EMEA")
               for i, score in enumerate([10, 9, 8, 3, 10, 7, 9, 6, 10, 2] * 12)]
    sqlite_store.upsert_responses(records)
    sqlite_store.add_event(now - timedelta(days=10), "Price change", "price")
    dash_app = create_app(settings)
    services = get_services(dash_app)
    services.poller.poll()
    return services


def first_update(services, query=None):
    config = {"query": query or {}}
    outputs = tv.run_update(services, config, None)
    return config, outputs


def split(outputs):
    """(parts by name, client state, status) from the wall callback's outputs."""
    names = tv.PAGE.output_names()
    parts = dict(zip(names, outputs[: len(names)], strict=True))
    return parts, outputs[-2], outputs[-1]


def test_first_update_sends_every_part_and_status(services):
    wall_parts = tv.PAGE.part_names(parse_screen({}, services.settings))
    _, outputs = first_update(services)
    parts, state, status = split(outputs)
    assert all(parts[name] is not no_update for name in DEFAULT_PARTS)
    assert parts["trend"]["data"] and "layout" in parts["trend"]
    assert set(state["hashes"]) == set(wall_parts) and len(wall_parts) == len(DEFAULT_PARTS)
    assert status["hhmm"] and status["age"] is not None


def test_unchanged_version_sends_no_update_for_every_part(services):
    config, outputs = first_update(services)
    _, state, _ = split(outputs)
    again = tv.run_update(services, config, state)
    parts, new_state, status = split(again)
    assert all(parts[name] is no_update for name in tv.PAGE.output_names())
    assert new_state is no_update
    assert isinstance(status, dict) and status["ok"]  # the status always goes out


def test_new_event_sends_only_the_trend(services):
    config, outputs = first_update(services)
    first, state, _ = split(outputs)
    services.store.add_event(datetime.now(UTC) - timedelta(days=2), "Atlas 3.0", "launch")
    assert services.poller.poll()
    parts, new_state, _ = split(tv.run_update(services, config, state))
    # The wall gets a patch of the figure it has (app/part_patch.py), not the figure again.
    assert isinstance(parts["trend"], Patch)
    trend = apply_patch(to_json(first["trend"]), parts["trend"])
    texts = [a["text"] for a in trend["layout"]["annotations"]]
    assert "Atlas 3.0" in texts
    assert [name for name, p in parts.items() if p is not no_update] == ["trend"]
    assert new_state["hashes"]["score.wall"] == state["hashes"]["score.wall"]


def test_new_response_sends_score_and_latest(services):
    config, outputs = first_update(services)
    _, state, _ = split(outputs)
    services.store.upsert_responses([make_record(9999, 0, comment="Broken again",
                                                 when=datetime.now(UTC), product="Pulse")])
    services.poller.poll()
    parts, _, _ = split(tv.run_update(services, config, state))
    assert parts["score"] is not no_update
    assert parts["latest"]["score"] == 0 and parts["latest"]["category"] == "detractor"
    assert parts["comments"] is not no_update


def test_pinned_panel_only_builds_and_sends_that_panel(services):
    config, outputs = first_update(services, {"panels": "trend"})
    parts, state, _ = split(outputs)
    assert parts["trend"] is not no_update
    assert parts["score"] is no_update and parts["topics"] is no_update
    assert set(state["hashes"]) == {"trend", "latest"}


def test_screens_with_the_same_request_share_one_build(services):
    cache = services.parts
    first_update(services, {"window": "90d"})
    builds = cache.builds
    first_update(services, {"window": "90d", "dwell": "20", "panels": "trend,score,topics"})
    assert cache.builds == builds


def test_other_worker_state_resends_nothing_that_matches(services):
    """A state from another process (other version number) costs a lookup, not a resend."""
    config, outputs = first_update(services)
    _, state, _ = split(outputs)
    foreign = {"token": "999:1:elsewhere", "hashes": state["hashes"]}
    parts, new_state, _ = split(tv.run_update(services, config, foreign))
    assert all(parts[name] is no_update for name in tv.PAGE.output_names())
    assert new_state["token"] == state["token"]


def test_registered_callback_answers_with_status_only_when_unchanged(services, settings):
    dash_app = create_app(settings)
    svc = get_services(dash_app)
    svc.poller.poll()
    config = {"query": {}}
    state = split(tv.run_update(svc, config, None))[1]
    body = wall_poll_body(config, state)
    client = dash_app.server.test_client()
    reply = client.post("/_dash-update-component", json=body)
    assert reply.status_code == 200
    sent = json.loads(reply.data)["response"]
    assert list(sent) == [tv.IDS.status]


def test_layout_mounts_every_panel_and_activates_the_first(services):
    layout = tv.build_layout({"panels": "topics,score"}, services)
    flat = json.dumps(layout.to_plotly_json(), default=lambda o: o.to_plotly_json())
    for name in panel_names():
        assert f'"{tv.panel_id(name)}"' in flat
    classes = {c.id: c.className for c in _walk(layout) if getattr(c, "id", None)
               in {tv.panel_id(name) for name in panel_names()}}
    assert classes["tv-panel-topics"].endswith("is-active")
    assert "is-active" not in classes["tv-panel-score"]
    assert "is-off" in classes["tv-panel-trend"]
    root = layout.to_plotly_json()["props"]
    assert root["data-build-id"] == services.build_id
    assert root["data-reload-at"].isdigit()


def _walk(node):
    if isinstance(node, (list, tuple)):
        for item in node:
            yield from _walk(item)
    elif hasattr(node, "to_plotly_json"):
        yield node
        yield from _walk(getattr(node, "children", None))


# -- URL settings -----------------------------------------------------------------------------


def parse(settings, **query):
    return parse_screen(query, settings)


def test_defaults(settings):
    screen = parse(settings)
    assert screen.panels == panel_names()
    assert screen.theme == "dark" and screen.shift
    assert screen.request.window == f"{settings.window_days}d"
    assert all(seconds == settings.dwell_seconds for _, seconds in screen.dwell)
    assert screen.notices == () and screen.query == ""


@pytest.mark.parametrize(("raw", "panels"), [
    ("trend", ("trend",)),
    ("comments,score", ("comments", "score")),
    (" Score , TREND,score", ("score", "trend")),
    ("score,bogus", ("score",)),
])
def test_panels(settings, raw, panels):
    assert parse(settings, panels=raw).panels == panels


def test_dwell_for_all_and_per_panel(settings):
    assert dict(parse(settings, dwell="20").dwell) == dict.fromkeys(panel_names(), 20.0)
    per = dict(parse(settings, dwell="score:30,trend:10").dwell)
    assert per["score"] == 30 and per["trend"] == 10 and per["topics"] == settings.dwell_seconds


@pytest.mark.parametrize(("raw", "bad", "kept"), [
    ("score:20,bogus:5", "bogus", "score:20"),
    ("score:20, Trend:10 ,trend:abc", "trend:abc", "score:20,trend:10"),
    ("12,score:1", "score:1", "12"),
])
def test_a_partly_bad_dwell_keeps_its_good_parts_in_the_canonical_url(settings, raw, bad, kept):
    screen = parse(settings, dwell=raw)
    assert any(bad in notice for notice in screen.notices)
    assert f"dwell={kept}" in screen.query
    # "Open wall" with the canonical query reproduces the screen, without the bad part.
    again = parse_screen(dict(parse_qsl(screen.query)), settings)
    assert again.dwell == screen.dwell and again.notices == ()


def test_the_wall_names_a_bad_dwell_part_on_screen(services):
    layout = tv.build_layout({"dwell": "score:20,bogus:5"}, services)
    notice = next(c for c in _walk(layout) if getattr(c, "id", None) == tv.IDS.notice)
    assert "bogus" in notice.children


def test_window_theme_shift_and_segments(settings):
    screen = parse(settings, window="90d", theme="light", shift="0", product="Ledger,Pulse",
                   region="EMEA")
    assert screen.request.window == "90d"
    assert screen.request.segments == (("product", ("Ledger", "Pulse")), ("region", ("EMEA",)))
    assert screen.theme == "light" and not screen.shift
    assert "window=90d" in screen.query and "product=Ledger,Pulse" in screen.query
    assert parse(settings, window="all").request.window == "all"


@pytest.mark.parametrize("query", [
    {"panels": "nothing,useful"}, {"dwell": "abc"}, {"dwell": "score:0.5"}, {"dwell": "foo:10"},
    {"theme": "purple"}, {"window": "fortnight"}, {"window": "0d"}, {"shift": "maybe"},
    {"from": "yesterday"}, {"colour": "red"},
])
def test_bad_values_fall_back_with_a_notice(settings, query):
    screen = parse_screen(query, settings)
    default = parse_screen({}, settings)
    assert screen.notices
    assert screen.panels == default.panels and screen.theme == default.theme
    assert screen.request == default.request
    assert dict(screen.dwell) == dict(default.dwell)


def test_bad_url_still_renders_the_wall_with_a_notice(services):
    layout = tv.build_layout({"theme": "purple", "window": "x", "dwell": "-3"}, services)
    notice = next(c for c in _walk(layout) if getattr(c, "id", None) == tv.IDS.notice)
    assert "theme" in notice.title and "window" in notice.title


def test_manager_query_keeps_screen_settings_and_sets_filters():
    query = manager.build_query({"theme": "light", "window": "30d", "product": "Atlas"}, "90d",
                                ["product", "region"], [["Ledger", "Pulse"], None])
    assert query == {"theme": "light", "window": "90d", "product": "Ledger,Pulse"}


def test_manager_keeps_a_date_range_through_polls_until_a_window_is_chosen(services):
    query = {"from": "2020-01-01", "to": "2020-12-31", "theme": "light"}
    page = manager.build_layout(query, services)
    control = next(c for c in _walk(page) if getattr(c, "id", None) == manager.WINDOW)
    assert control.value == "range"  # not the 30d default
    assert control.options[0] == {"label": "2020-01-01 to 2020-12-31", "value": "range"}
    config = {"query": query, "fields": list(services.settings.segment_fields)}
    polled = manager.run_update(services, config, None, control.value, [None, None, None])
    assert polled[PANELS] == "2020-01-01 to 2020-12-31"
    fields = list(services.settings.segment_fields)
    assert manager.build_query(query, control.value, fields, [None] * 3) == query
    chosen = manager.build_query(query, "90d", fields, [None] * 3)
    assert chosen == {"theme": "light", "window": "90d"}


def test_manager_update_follows_the_selector(services):
    config = {"query": {}, "fields": list(services.settings.segment_fields)}
    first = manager.run_update(services, config, None, "30d", [None, None, None])
    state = first[-2]
    same = manager.run_update(services, config, state, "30d", [None, None, None])
    assert all(p is no_update for p in same[:PANELS + 1])
    changed = manager.run_update(services, config, state, "90d", [["Ledger"], None, None])
    assert changed[0] is not no_update and changed[PANELS] == "Last 90 days · Ledger"


def test_a_lagging_worker_never_sends_older_data(services):
    config, outputs = first_update(services)
    _, state, _ = split(outputs)
    # The screen's last poll reached a worker that had already seen newer rows.
    ahead = {**state, "token": "other-worker", "mark": [state["mark"][0] + 1, state["mark"][1]]}
    parts, new_state, _ = split(tv.run_update(services, config, ahead))
    assert all(parts[name] is no_update for name in tv.PAGE.output_names())
    assert new_state is no_update


def test_unknown_url_parameters_such_as_a_token_never_reach_the_page(services):
    layout = tv.build_layout({"token": "s3cret-value", "panels": "score"}, services)
    assert "s3cret-value" not in json.dumps(layout.to_plotly_json(), default=str)
    page = manager.build_layout({"token": "s3cret-value"}, services)
    assert "s3cret-value" not in json.dumps(page.to_plotly_json(), default=str)


def test_the_poll_job_builds_parts_before_an_active_screen_asks(services):
    config, outputs = first_update(services, {"window": "90d"})
    _, state, _ = split(outputs)
    services.store.upsert_responses([make_record(7777, 10, comment="Fast support",
                                                 when=datetime.now(UTC), product="Pulse")])
    assert services.poller.poll() is True  # publishes, then prewarms the active screen
    builds = services.parts.builds
    parts, _, _ = split(tv.run_update(services, config, state))
    assert parts["score"] is not no_update  # the screen gets the new data...
    assert services.parts.builds == builds  # ...without building anything on its request


def test_a_screen_not_seen_lately_is_not_prewarmed(services):
    services.screens.max_age = 0.0
    first_update(services, {"window": "90d"})
    services.store.upsert_responses([make_record(7778, 10, when=datetime.now(UTC))])
    builds = services.parts.builds
    services.poller.poll()
    assert services.parts.builds == builds


def test_a_lagging_worker_still_answers_a_screen_that_changed_its_view(services):
    config, outputs = first_update(services)
    _, state, _ = split(outputs)
    ahead = {**state, "mark": [state["mark"][0] + 1, state["mark"][1]]}
    other = {"query": {"window": "90d"}}
    parts, new_state, _ = split(tv.run_update(services, other, ahead))
    assert parts["score"] is not no_update
    assert new_state["key"] != state["key"]


# -- data source trouble and display safety --------------------------------------------------


def _break_store(monkeypatch, services):
    """Make every poll fail the way a dead PostgreSQL does, with driver text in the message."""
    def fail(*_args, **_kwargs):
        raise OperationalError("SELECT responses", {}, psycopg.OperationalError(
            "connection to server at db.internal (10.0.0.5) failed: password=hunter2"))
    monkeypatch.setattr(services.poller.store, "changed_since", fail)


def test_store_trouble_is_reported_with_the_last_good_data_kept(services, monkeypatch):
    config, outputs = first_update(services)
    _, state, status = split(outputs)
    assert status["trouble"] is False and status["error"] is None
    good_hhmm = status["hhmm"]
    _break_store(monkeypatch, services)
    assert services.poller.poll() is False
    parts, new_state, status = split(tv.run_update(services, config, state))
    # The screen keeps what it shows: nothing is re-sent, the status says what is wrong.
    assert all(parts[name] is no_update for name in tv.PAGE.output_names())
    assert new_state is no_update
    assert status["trouble"] is True and status["error"] == "OperationalError"
    assert status["hhmm"] == good_hhmm
    leaked = json.dumps(status)
    assert "hunter2" not in leaked and "db.internal" not in leaked and "SELECT" not in leaked
    monkeypatch.undo()
    services.poller.poll()
    _, _, status = split(tv.run_update(services, config, state))
    assert status["trouble"] is False and status["error"] is None


def test_manager_status_reports_store_trouble(services, monkeypatch):
    config = {"query": {}, "fields": list(services.settings.segment_fields)}
    state = manager.run_update(services, config, None, "30d", [None, None, None])[-2]
    _break_store(monkeypatch, services)
    services.poller.poll()
    outputs = manager.run_update(services, config, state, "30d", [None, None, None])
    assert all(p is no_update for p in outputs[:5])
    assert outputs[-1]["trouble"] is True and outputs[-1]["error"] == "OperationalError"


def test_status_never_carries_more_than_an_error_class(services):
    services.poller.last_error = "could not connect: password=hunter2"
    status = live_status.build_status(services)
    assert status["trouble"] is True and status["error"] == "Error"


def test_segment_values_are_masked_in_filters_and_subtitles(services, sqlite_store):
    # Stored before the input rules existed: an address and an override in segment values.
    sqlite_store.upsert_responses([make_record(900, 9, comment="fine", region="EM\u202eEA",
                                               product="ann\uff20corp\uff0ecom")])
    services.poller.poll()
    page = manager.build_layout({}, services)
    dropdowns = {c.id["field"]: c for c in _walk(page) if isinstance(getattr(c, "id", None), dict)
                 and c.id.get("type") == manager.FILTER_TYPE}
    products = {o["value"]: o["label"] for o in dropdowns["product"].options}
    assert products["ann\uff20corp\uff0ecom"] == "[email]"
    regions = {o["value"]: o["label"] for o in dropdowns["region"].options}
    assert regions["EM\u202eEA"] == "EMEA"
    subtitle = describe_request(ViewRequest(window="30d", segments=(
        ("product", ("x\u202e" + "y" * 300, "bob (at) corp (dot) com")),)))
    assert subtitle.startswith("Last 30 days · xyyy") and subtitle.endswith("…, [email]")
    assert "\u202e" not in subtitle and len(subtitle) < 100
