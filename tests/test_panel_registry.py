"""One panel registry: every surface reads it, none keeps its own list of panels.

The first tests read the source: no module in app/ (but the registry) and no browser script
lists panel names or branches on one. The others add a fifth panel to the registry, and
nothing else, and find it on the wall, in the manager grid, in the client config, in the URL
vocabulary, in the poll callback and in the part cache.
"""

from __future__ import annotations

import ast
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from dash import html

from app import manager, tv
from app.panels import registry
from app.panels.registry import Panel, panel_names
from app.screen import parse_screen
from app.services import get_services
from app.web import create_app
from tests.conftest import make_record, wall_poll_body

APP_DIR = Path(__file__).resolve().parents[1] / "app"
ASSETS_DIR = APP_DIR.parent / "assets"
REGISTRY = APP_DIR / "panels" / "registry.py"


def _panel_literals(tree: ast.AST, names: set[str]) -> list[tuple[int, str]]:
    """Collections holding two or more panel names, and comparisons with a panel name."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            values = node.elts
        elif isinstance(node, ast.Dict):
            values = [k for k in node.keys if k is not None]
        elif isinstance(node, ast.Compare):
            values = [node.left, *node.comparators]
            if any(isinstance(v, ast.Constant) and v.value in names for v in values):
                found.append((node.lineno, ast.unparse(node)))
            continue
        else:
            continue
        named = [v.value for v in values if isinstance(v, ast.Constant) and v.value in names]
        if len(set(named)) >= 2:
            found.append((node.lineno, ast.unparse(node)[:80]))
    return found


PAGE_LAYER = ("dash", "app.panels", "app.screen", "app.parts", "app.live", "app.part_cache")


def _in_page_layer(tree: ast.AST) -> bool:
    """A module that builds or feeds screens: it imports Dash, a panel, or the live modules.
    (Elsewhere ``score`` and ``topics`` are also column and field names.)"""
    for node in ast.walk(tree):
        modules = ([a.name for a in node.names] if isinstance(node, ast.Import)
                   else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
        if any(m == p or m.startswith(p + ".") for m in modules for p in PAGE_LAYER):
            return True
    return False


def test_no_module_but_the_registry_lists_or_branches_on_panels():
    names = set(panel_names())
    offenders, checked = [], []
    for path in sorted(APP_DIR.rglob("*.py")):
        tree = ast.parse(path.read_text())
        if path == REGISTRY or not _in_page_layer(tree):
            continue
        checked.append(path.stem)
        for line, text in _panel_literals(tree, names):
            offenders.append(f"{path.relative_to(APP_DIR.parent)}:{line}: {text}")
    assert offenders == []
    # The surfaces themselves were read: the wall, the manager, the scaffold, the parts.
    assert {"tv", "manager", "live_page", "live", "parts", "screen", "pages"} <= set(checked)


def test_the_detector_finds_a_surface_with_its_own_list():
    names = set(panel_names())
    own_list = ast.parse('PARTS = ("score", "trend", "topics")\nif name == "trend": pass\n')
    assert [line for line, _ in _panel_literals(own_list, names)] == [1, 2]


def test_the_browser_script_names_no_panel():
    names = "|".join(re.escape(n) for n in panel_names())
    for script in ASSETS_DIR.glob("*.js"):
        quoted = re.findall(rf"""["']({names})["']""", script.read_text())
        assert quoted == [], f"{script.name} names panels {quoted}; read config.names"


# -- a fifth panel, added to the registry and nowhere else ------------------------------------


def _needs(view, ctx):
    return (view.current.n, ctx.surface, ctx.limit)


def _build(view, ctx):
    return [html.Div(f"{view.current.n} answers on the {ctx.surface} (limit {ctx.limit})",
                     className="sample-count")]


SAMPLE = Panel("sample", _needs, _build, title="Sample panel", nav="Sample",
               card_title="Sample card", limits={"wall": 3, "manager": 4}, by_surface=True)


@pytest.fixture
def with_sample(monkeypatch):
    monkeypatch.setattr(registry, "PANELS", (*registry.PANELS, SAMPLE))


@pytest.fixture
def sample_app(with_sample, settings, sqlite_store):
    sqlite_store.upsert_responses([make_record(i, 9, when=datetime.now(UTC)) for i in range(6)])
    dash_app = create_app(settings)
    get_services(dash_app).poller.poll()
    return dash_app


def _flat(layout) -> str:
    return json.dumps(layout.to_plotly_json(), default=lambda o: o.to_plotly_json())


def test_a_registered_panel_is_on_the_wall_and_in_its_config(sample_app):
    services = get_services(sample_app)
    flat = _flat(tv.build_layout({"panels": "sample,score", "dwell": "sample:9"}, services))
    for expected in ('"tv-panel-sample"', '"tv-nav-sample"', '"tv-sample-body"',
                     "Sample panel", '"Sample"', "6 answers on the wall (limit 3)",
                     '"names": ["score", "trend", "topics", "comments", "changes", "sample"]',
                     '"panels": ["sample", "score"]', '"sample": 9.0'):
        assert expected in flat


def test_a_registered_panel_is_a_manager_card(sample_app):
    flat = _flat(manager.build_layout({}, get_services(sample_app)))
    for expected in ('"mgr-card-sample"', "Sample card", '"mgr-sample-body"',
                     "6 answers on the manager (limit 4)"):
        assert expected in flat


def test_a_registered_panel_is_in_the_url_vocabulary(sample_app):
    settings = get_services(sample_app).settings
    screen = parse_screen({"panels": "sample", "dwell": "sample:9"}, settings)
    assert screen.panels == ("sample",) and screen.notices == ()
    assert screen.dwell_for("sample") == 9.0
    assert parse_screen({}, settings).panels[-1] == "sample"


def test_a_registered_panel_is_polled_and_rebuilt_when_its_data_changes(sample_app):
    services = get_services(sample_app)
    client = sample_app.server.test_client()
    config = {"query": {"panels": "sample"}}
    reply = client.post("/_dash-update-component", json=wall_poll_body(config, None))
    assert reply.status_code == 200
    sent = json.loads(reply.data)["response"]
    assert "6 answers on the wall" in json.dumps(sent["tv-sample-body"])
    state = sent[tv.IDS.state]["data"]
    assert "sample.wall" in state["hashes"]
    services.store.upsert_responses([make_record(100, 3, when=datetime.now(UTC))])
    services.poller.poll()
    reply = client.post("/_dash-update-component", json=wall_poll_body(config, state))
    assert "7 answers on the wall" in json.dumps(json.loads(reply.data)["response"])


def test_the_rotation_is_the_browsers_alone(sample_app):
    """The wall rotates in the browser (assets/nps_tv.js moves ``is-active`` between the
    mounted panels, a registered one included: its section, bar item and config entry are
    checked above). No Dash callback writes a panel's or a bar item's class, and none waits
    on a tick, so a rotation costs no request, no Dash cycle and no React render."""
    outputs = " ".join(sample_app.callback_map)
    assert "tv-panel-" not in outputs and "tv-nav-" not in outputs
    assert "tv-gong.className" not in outputs  # the gong's class is the script's too
    inputs = {i["id"] for cb in sample_app.callback_map.values() for i in cb["inputs"]}
    assert tv.IDS.status in inputs and tv.IDS.tick not in inputs
    flat = _flat(tv.build_layout({"panels": "sample,score"}, get_services(sample_app)))
    assert f'"{tv.IDS.tick}"' not in flat and '"tick": null' in flat


def test_a_panel_with_nothing_to_say_is_marked_for_the_rotation_to_skip(sample_app):
    """'What changed' says 'No significant change' with data-empty, and the page config lists
    the panels the rotation passes over while they are empty."""
    services = get_services(sample_app)
    flat = _flat(tv.build_layout({"panels": "changes,score"}, services))
    skippable = [p.name for p in registry.panels() if p.skip_when_empty]
    assert skippable == ["changes"]
    assert f'"skip_empty": {json.dumps(skippable)}' in flat
    assert "No significant change" in flat and '"data-empty": "true"' in flat


def test_each_drawn_panel_has_its_drawer_and_a_store_on_its_surface_only():
    from app.live_page import build_body

    script = (ASSETS_DIR / "nps_tv.js").read_text()
    drawn = [panel for panel in registry.PANELS if panel.drawn]
    assert drawn
    for panel in drawn:
        assert f"draw_{panel.drawer}:" in script, panel.drawer
        assert tv.PAGE.draws(panel) and not manager.PAGE.draws(panel)
        assert tv.PAGE.target(panel) == (f"tv-{panel.name}-data", "data")
        assert manager.PAGE.target(panel) == (f"mgr-{panel.name}-body", "children")
        assert build_body(tv.PAGE, panel, ["anything"]).children is None
        assert build_body(manager.PAGE, panel, ["anything"]).children == ["anything"]
