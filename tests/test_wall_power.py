"""The wall's low-power mode and staggered reloads: settings, the screen parameter, the ask
factor and each screen's reload offset."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest

from app import live_status, tv
from app.config import Settings
from app.screen import parse_screen
from app.services import get_services
from app.share_input import LinkInputError, canonical_screen
from app.web import create_app

# -- settings ---------------------------------------------------------------------------------


def test_power_and_spread_settings_are_read_from_the_environment():
    settings = Settings.from_env({
        "NPS_TV_WALL_POWER": " LOW ", "NPS_TV_LOW_POWER_ASK_FACTOR": "4",
        "NPS_TV_RELOAD_SPREAD_SECONDS": "900", "NPS_TV_BUILD_RELOAD_SPREAD_SECONDS": "0"})
    assert settings.wall_power == "low" and settings.low_power_ask_factor == 4.0
    assert settings.reload_spread_seconds == 900.0
    assert settings.build_reload_spread_seconds == 0.0


def test_power_and_spread_defaults():
    settings = Settings.from_env({})
    assert settings.wall_power == "normal" and settings.low_power_ask_factor == 3.0
    assert (settings.reload_spread_seconds, settings.build_reload_spread_seconds) == (600, 60)


@pytest.mark.parametrize(("name", "value", "says"), [
    ("NPS_TV_WALL_POWER", "eco", "expected normal or low"),
    ("NPS_TV_LOW_POWER_ASK_FACTOR", "0.5", "from 1 to 10"),
    ("NPS_TV_LOW_POWER_ASK_FACTOR", "11", "from 1 to 10"),
    ("NPS_TV_LOW_POWER_ASK_FACTOR", "lots", "could not convert"),
    ("NPS_TV_RELOAD_SPREAD_SECONDS", "-1", "at least 0"),
    ("NPS_TV_BUILD_RELOAD_SPREAD_SECONDS", "nan", "at least 0"),
])
def test_a_bad_power_or_spread_setting_is_refused_naming_the_variable(name, value, says):
    with pytest.raises(ValueError) as caught:
        Settings.from_env({name: value})
    assert str(caught.value).startswith(f"{name}: ") and says in str(caught.value)


# -- low power ---------------------------------------------------------------------------------


def test_ask_factor_stretches_only_a_low_power_screen(settings):
    settings = settings.replace(low_power_ask_factor=5.0)
    assert live_status.ask_factor(settings, low_power=True) == 5.0
    assert live_status.ask_factor(settings, low_power=False) == 1.0


@pytest.mark.parametrize(("wall_power", "param", "low"), [
    ("normal", None, False), ("normal", "low", True), ("low", None, True),
    ("low", "normal", False),
])
def test_the_screen_parameter_overrides_the_setting(settings, wall_power, param, low):
    assert live_status.low_power(settings.replace(wall_power=wall_power), param) is low


def test_power_parameter_is_parsed_and_kept_in_the_canonical_query(settings):
    screen = parse_screen({"power": " Low ", "panels": "score"}, settings)
    assert screen.power == "low" and screen.notices == ()
    assert "power=low" in screen.query
    again = parse_screen(dict(parse_qsl(screen.query)), settings)
    assert again.power == "low" and again.query == screen.query
    assert parse_screen({}, settings).power is None


def test_a_bad_power_parameter_is_a_notice_not_an_error(settings):
    screen = parse_screen({"power": "turbo"}, settings)
    assert screen.power is None
    assert any("power" in notice and "turbo" in notice for notice in screen.notices)


def test_a_share_link_keeps_the_power_parameter(settings):
    assert "power=low" in canonical_screen("panels=score&power=LOW", settings)
    with pytest.raises(LinkInputError) as caught:
        canonical_screen("power=eco", settings)
    assert caught.value.field == "screen.power"


def _walk(node):
    yield node
    children = getattr(node, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if child is not None and hasattr(child, "to_plotly_json"):
            yield from _walk(child)


def _frame(settings, query):
    services = get_services(create_app(settings))
    layout = tv.build_layout(query, services)
    poll = next(c for c in _walk(layout) if getattr(c, "id", None) == tv.IDS.poll)
    return layout, poll


@pytest.mark.parametrize(("wall_power", "query"), [("normal", {"power": "low"}),
                                                   ("low", {})])
def test_a_low_power_wall_has_no_shift_and_asks_less_often(settings, sqlite_store,
                                                           wall_power, query):
    settings = settings.replace(wall_power=wall_power, low_power_ask_factor=4.0)
    low, low_poll = _frame(settings, query)
    normal, normal_poll = _frame(settings, {"power": "normal"})
    assert {"is-low-power", "no-shift"} <= set(low.className.split())
    assert "is-low-power" not in normal.className and "no-shift" not in normal.className
    # The asks stretch (the safety net is the same 30 s on both; the page times it from its
    # last poll, assets/nps_ask.js, so Dash's timed poll, which counts from the page's load and
    # fired for a fleet opened together at once, never runs).
    low_ask, normal_ask = (int(x.to_plotly_json()["props"]["data-ask-ms"]) for x in (low, normal))
    assert low_ask == 4 * normal_ask
    assert {x.to_plotly_json()["props"]["data-safety-ms"] for x in (low, normal)} == {"30000"}
    assert low_poll.disabled is True and normal_poll.disabled is True
    # Asking less often is not a lost connection: the notice waits for three missed asks.
    config = next(c for c in _walk(low) if getattr(c, "id", None) == tv.IDS.config).data
    assert config["ask_seconds"] == low_ask / 1000
    assert config["lost_after"] >= 3 * config["ask_seconds"]


def test_the_wall_carries_its_reload_windows(settings, sqlite_store):
    settings = settings.replace(reload_spread_seconds=900.0, build_reload_spread_seconds=45.0)
    layout, _ = _frame(settings, {})
    attrs = layout.to_plotly_json()["props"]
    assert attrs["data-reload-spread"] == "900" and attrs["data-build-spread"] == "45"


# -- staggered reloads -------------------------------------------------------------------------


def test_a_screen_reload_offset_is_stable_and_inside_its_window():
    first = live_status.reload_offset_seconds("s4k2j9x1lmq", 600)
    assert first == live_status.reload_offset_seconds("s4k2j9x1lmq", 600)
    assert 0 <= first < 600
    assert live_status.reload_offset_seconds("s4k2j9x1lmq", 0) == 0


def test_reload_offsets_spread_a_fleet_over_the_window():
    offsets = [live_status.reload_offset_seconds(f"screen-{i}", 600) for i in range(200)]
    assert all(0 <= x < 600 for x in offsets)
    assert len({round(x, 3) for x in offsets}) == len(offsets)  # no two screens share a second
    # Every tenth of the window gets some screens (a uniform spread gives about 20 each).
    per_tenth = [sum(1 for x in offsets if k * 60 <= x < (k + 1) * 60) for k in range(10)]
    assert min(per_tenth) >= 8, per_tenth
    # No more than a handful of screens in any one second.
    assert max(sum(1 for x in offsets if int(x) == s) for s in range(600)) <= 4
