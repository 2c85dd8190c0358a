"""Hand-made requests get a 4xx (or a harmless page), never a 500 with a logged traceback:
Dash callback bodies, path probes, out-of-range query values, oversized bodies."""

from __future__ import annotations

import io
import json
import logging
import re
from typing import Any

import pytest

from tests.conftest import ADMIN_TOKEN, INGEST_TOKEN, poll

UPDATE = "/_dash-update-component"
ROUTE = "page-content.children"
TV_POLL = "..tv-score-data.data"  # prefixes of the callbacks' output ids
MGR_POLL = "..mgr-score-body.children"
MGR_URL = "mgr-wall-link.href"  # the window and filters' sync of the "Open wall" link
WORKSPACE = "..ws-body.children"  # the workspace's render, which also writes the page's URL
TV_GONG = "..tv-gong.children"  # a clientside callback: the server has no function for it


@pytest.fixture
def deps(dash_app, client) -> list[dict[str, Any]]:
    """The app's callbacks, after a first poll (callbacks answer from a snapshot, as on a
    running wall)."""
    poll(dash_app)
    return client.get("/_dash-dependencies").get_json()


def call(deps: list[dict], prefix: str, *values: Any) -> dict[str, Any]:
    """A well-formed call of the callback whose output id starts with ``prefix``: inputs then
    state take ``values`` in order; a pattern-matching input takes a list of (id, value)."""
    dep = next(d for d in deps if d["output"].startswith(prefix))
    out = dep["output"]

    def ref(text: str) -> dict[str, str]:
        ident, _, prop = text.rpartition(".")
        return {"id": ident, "property": prop}

    items = iter(values)

    def fill(entries: list[dict]) -> list[Any]:
        filled = []
        for entry in entries:
            value = next(items, None)
            if entry["id"].startswith("{"):  # pattern: one entry per matching component
                pattern = json.loads(entry["id"])
                filled.append([{"id": {**pattern, **ident}, "property": entry["property"],
                                "value": v} for ident, v in (value or [])])
            else:
                filled.append({"id": entry["id"], "property": entry["property"], "value": value})
        return filled

    return {"output": out,
            "outputs": ([ref(t) for t in out.strip(".").split("...")] if out.startswith("..")
                        else ref(out)),
            "inputs": fill(dep["inputs"]), "state": fill(dep["state"]),
            "changedPropIds": [f"{dep['inputs'][0]['id']}.{dep['inputs'][0]['property']}"]}


def with_input(body: dict[str, Any], index: int, value: Any) -> dict[str, Any]:
    """``body`` with its input at ``index`` replaced."""
    body["inputs"][index] = value
    return body


def assert_no_traceback(caplog) -> None:
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert bad == [], [r.getMessage()[:200] for r in bad]


def post_update(client, body: Any):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(UPDATE, data=data, content_type="application/json")


# Bodies that are not a call of a server-side callback: Dash raised KeyError, AttributeError,
# IndexError, TypeError, CallbackException or RecursionError on each (500 + traceback).
MALFORMED_UPDATES = [
    pytest.param(lambda d: b"hello", "body", id="not-json"),
    pytest.param(lambda d: b"", "body", id="empty"),
    pytest.param(lambda d: b"\xff\xfe{}", "body", id="not-utf8"),
    pytest.param(lambda d: b"[" * 100_000 + b"]" * 100_000, "body", id="nested-too-deep"),
    pytest.param(lambda d: [1, 2], "body", id="json-list"),
    pytest.param(lambda d: 7, "body", id="json-number"),
    pytest.param(lambda d: None, "body", id="json-null"),
    pytest.param(lambda d: {}, "output", id="empty-object"),
    pytest.param(lambda d: {**call(d, ROUTE, "/"), "output": 5}, "output", id="output-number"),
    pytest.param(lambda d: {**call(d, ROUTE, "/"), "output": "nope.children"}, "output",
                 id="unknown-output"),
    pytest.param(lambda d: call(d, TV_GONG, None, 1), "output", id="clientside-output"),
    pytest.param(lambda d: {**call(d, TV_POLL, 1), "outputs": []}, "outputs",
                 id="outputs-wrong-length"),
    pytest.param(lambda d: {**call(d, TV_POLL, 1), "outputs": "x"}, "outputs",
                 id="outputs-not-a-list"),
    pytest.param(lambda d: {**call(d, ROUTE, "/"), "outputs": {"id": "x", "property": "y"}},
                 "outputs", id="outputs-other-component"),
    pytest.param(lambda d: {**call(d, ROUTE, "/"), "inputs": "x"}, "inputs",
                 id="inputs-not-a-list"),
    pytest.param(lambda d: {**call(d, ROUTE, "/"), "inputs": []}, "inputs", id="inputs-empty"),
    pytest.param(lambda d: {**call(d, ROUTE, "/"), "inputs": [5]}, "inputs[0]",
                 id="input-not-an-object"),
    pytest.param(lambda d: {**call(d, ROUTE, "/"),
                            "inputs": [{"id": "zzz", "property": "pathname", "value": "/"}]},
                 "inputs[0]", id="input-unknown-component"),
    pytest.param(lambda d: {**call(d, ROUTE, "/"), "state": {"a": 1}}, "state",
                 id="state-not-a-list"),
    pytest.param(lambda d: {**call(d, ROUTE, "/"), "changedPropIds": [1]}, "changedPropIds",
                 id="changed-not-strings"),
    pytest.param(lambda d: with_input(call(d, MGR_POLL, 1, "30d"), 2,
                                      {"id": {"type": "mgr-filter", "field": "plan"},
                                       "property": "value", "value": None}),
                 "inputs[2]", id="pattern-input-not-a-list"),
    pytest.param(lambda d: call(d, MGR_POLL, 1, "30d", [({"field": 5}, None)] * 201),
                 "inputs[2]", id="pattern-input-huge-list"),
    pytest.param(lambda d: call(d, MGR_POLL, 1, "30d", [({"other": "x"}, None)]), "inputs[2][0].id",
                 id="pattern-input-wrong-keys"),
]


@pytest.mark.parametrize(("make", "path"), MALFORMED_UPDATES)
def test_malformed_update_body_is_a_400_naming_the_problem(client, deps, caplog, make, path):
    response = post_update(client, make(deps))
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert [p["path"] for p in response.get_json()["problems"]] == [path]
    assert_no_traceback(caplog)


# Well-formed calls whose values are not what the page stored: the callbacks read them as
# untrusted and answer as for a fresh screen (AttributeError / TypeError before).
ODD_VALUES = [
    pytest.param(ROUTE, (5, 5), id="route-pathname-number"),
    pytest.param(ROUTE, ("/tv", ["?window=7d"]), id="route-search-list"),
    pytest.param(ROUTE, ({"a": 1}, {"a": 1}), id="route-objects"),
    pytest.param(ROUTE, ("/tv", "?window=99999999d&dwell=1e400&panels=" + "x," * 500),
                 id="route-out-of-range-query"),
    pytest.param(TV_POLL, (1, "x", 5), id="tv-config-and-state-not-objects"),
    pytest.param(TV_POLL, (1, {"query": 5}, {"hashes": 5}), id="tv-inner-values-wrong"),
    pytest.param(TV_POLL, (1, {"query": {"window": 5, "plan": ["a"]}},
                           {"token": 5, "key": [1], "mark": "zz", "hashes": {"score": 5}}),
                 id="tv-inner-types-wrong"),
    pytest.param(MGR_POLL, (1, ["7d"], [({"field": "plan"}, 5)], 5, 5),
                 id="manager-window-and-filter-wrong-types"),
    pytest.param(MGR_POLL, (1, "\u0665d", [({"field": "plan"}, ["a", 5, None])],
                            {"query": {"x" * 1000: "y"}, "fields": [5, None]}, None),
                 id="manager-odd-window-and-fields"),
    pytest.param(MGR_URL, ({"x": 1}, [({"field": "plan"}, [[1]])], "x"),
                 id="manager-url-sync-wrong-types"),
    pytest.param(WORKSPACE, (["topic"], {"x": 1}, [({"field": "plan"}, [[1]])], "x"),
                 id="workspace-wrong-types"),
    pytest.param(WORKSPACE, ({"view": "events", "page": "9" * 50, "topic": "x" * 5000,
                              "event": "1e9", "period": "2026-02-30", 5: 6},
                             "30d", [({"field": "plan"}, None)], {"query": {}}),
                 id="workspace-odd-state"),
    pytest.param("fu-message.children", ([({"type": "fu-status", "id": "x"}, 5)],
                                         [({"type": "fu-owner", "id": "x"}, ["a"])]),
                 id="follow-up-odd-values"),
]


@pytest.mark.parametrize(("prefix", "values"), ODD_VALUES)
def test_callback_given_odd_values_answers_without_error(client, deps, caplog, prefix, values):
    response = post_update(client, call(deps, prefix, *values))
    assert response.status_code in (200, 204), response.get_data(as_text=True)[:300]
    assert_no_traceback(caplog)


# Path probes: Dash raised DependencyException (500) for every unknown script path.
PATH_PROBES = [
    ("/_dash-component-suites/../../etc/passwd", 404),
    ("/_dash-component-suites/dash/../../../etc/passwd", 404),
    ("/_dash-component-suites/dash/deps/..%2f..%2fetc%2fpasswd", 404),
    ("/_dash-component-suites/dash/%2e%2e/%2e%2e/__init__.py", 404),
    ("/_dash-component-suites/dash/x.js", 404),
    ("/_dash-component-suites/nope/x.js", 404),
    ("/_dash-component-suites/dash/deps/polyfill@7.v3_0_0m1.min.js", 404),
    ("/_dash-component-suites/dash/dash_table/bundle.js%00.map", 400),
    ("/assets/../app/config.py", 404),
    ("/%00", 400),
    ("/tv?window=%00", 400),
    ("/api/v1/summary?window=%00", 400),
    # Unknown paths are the single-page app (dcc.Location routes them): the manager page,
    # never a file.
    ("/../etc/passwd", 200),
    ("/%2e%2e/%2e%2e/etc/passwd", 200),
    ("/" + "a" * 10_000, 200),
]


@pytest.mark.parametrize(("path", "status"), PATH_PROBES, ids=[p[:50] for p, _ in PATH_PROBES])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_path_probe_answers_without_error(dash_app, client, caplog, path, status, method):
    poll(dash_app)
    response = client.open(path, method=method)
    assert response.status_code == status
    assert b"root:" not in response.data and b"import" not in response.data
    assert_no_traceback(caplog)


QUERY_PROBES = [
    ("/api/v1/responses?to=9999-12-31", "to"),  # OverflowError (500) before
    ("/api/v1/responses?from=9999-12-31&to=9999-12-31", "to"),
    ("/api/v1/responses?source=%00", "query"),  # PostgreSQL: DataError (500) before
    ("/api/v1/responses?plan=a%00b", "query"),
    ("/api/v1/responses?limit=99999999999999999999", "limit"),
    ("/api/v1/responses?limit=%D9%A5", "limit"),
    ("/api/v1/responses?after_id=-1", "after_id"),
    ("/api/v1/summary?window=99999999d", "window"),
    ("/api/v1/summary?window=0001-01-01..9999-12-31", "window"),
]


@pytest.mark.parametrize(("path", "problem"), QUERY_PROBES)
def test_out_of_range_query_value_is_a_400(store_client, caplog, path, problem):
    response = store_client.get(path, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert problem in [p["path"] for p in response.get_json()["problems"]]
    assert_no_traceback(caplog)


# Ids in the path past 64 bits: Flask's <int:...> takes them, and the driver raised
# OverflowError (SQLite) or NumericValueOutOfRange (PostgreSQL): a 500 with a traceback.
ID_PROBES = [
    ("DELETE", "/api/v1/share-links/{}", None),
    ("DELETE", "/api/v1/events/{}", None),
    ("PATCH", "/api/v1/events/{}", {"label": "x"}),
    ("PUT", "/api/v1/follow-ups/{}", {"status": "contacted"}),
    ("GET", "/api/v1/responses/{}/topics", None),
    ("PUT", "/api/v1/responses/{}/topics", {"topics": []}),
]


@pytest.mark.parametrize(("method", "path", "body"), ID_PROBES, ids=[f"{m} {p}" for m, p, _ in
                                                                      ID_PROBES])
@pytest.mark.parametrize("row_id", [2**63, 10**20])
def test_an_id_past_64_bits_is_a_404_naming_the_id(store_client, caplog, method, path, body,
                                                    row_id):
    response = store_client.open(path.format(row_id), method=method, json=body,
                                 headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert response.status_code == 404, response.get_data(as_text=True)[:300]
    assert [p["path"] for p in response.get_json()["problems"]] == ["id"]
    assert_no_traceback(caplog)


class Unsized(io.RawIOBase):
    """A request body of unknown length, as a chunked upload arrives."""

    def __init__(self, data: bytes):
        self.data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        return self.data.readinto(buffer)


def send_chunked(client, path: str, body: bytes, **headers: str):
    return client.post(path, headers={"Transfer-Encoding": "chunked", **headers},
                       content_type="application/json",
                       environ_overrides={"wsgi.input": Unsized(body), "CONTENT_LENGTH": "",
                                          "wsgi.input_terminated": True})


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_dash_route_refuses_a_body_over_its_limit(make_app, caplog, chunked):
    client = make_app(max_dash_body_bytes=1000).server.test_client()
    body = json.dumps({"output": "x" * 2000}).encode()
    response = (send_chunked(client, UPDATE, body) if chunked
                else client.post(UPDATE, data=body, content_type="application/json"))
    assert response.status_code == 413
    assert response.get_json()["limit"] == 1000
    assert "the limit is 1000 bytes" in response.get_json()["detail"]
    assert_no_traceback(caplog)


def test_a_chunked_body_within_the_limit_reaches_the_route(make_app):
    client = make_app(max_dash_body_bytes=1000).server.test_client()
    response = send_chunked(client, UPDATE, b'{"output": "nope"}')
    assert response.status_code == 400  # read whole and judged by the route, not refused
    assert response.get_json()["problems"][0]["path"] == "output"


def test_api_routes_keep_their_own_larger_limit(make_app):
    client = make_app(max_dash_body_bytes=1000, max_body_bytes=5000).server.test_client()
    headers = {"Authorization": f"Bearer {INGEST_TOKEN}"}
    within = client.post("/api/v1/responses", data=b" " * 3000 + b"{}", headers=headers,
                         content_type="application/json")
    over = send_chunked(client, "/api/v1/responses", b" " * 6000, **headers)
    assert within.status_code == 400  # past the limit check, refused for its content
    assert over.status_code == 413 and over.get_json()["limit"] == 5000


def test_a_content_length_that_is_not_a_number_is_a_400(dash_app, client):
    poll(dash_app)
    response = client.post(UPDATE, data=b"{}", content_type="application/json",
                           environ_overrides={"CONTENT_LENGTH": "12abc"})
    assert response.status_code == 400
    assert response.get_json()["problems"][0]["path"] == "Content-Length"


def test_behind_a_proxy_the_forwarded_client_address_is_used(make_app):
    from flask import request

    for hops, expected in ((0, "127.0.0.1"), (1, "203.0.113.9")):
        # open: behind a proxy the default would be links, and this route is not a share door
        dash_app = make_app(proxy_hops=hops, access="open")
        dash_app.server.add_url_rule("/_test-remote", "remote", lambda: request.remote_addr)
        response = dash_app.server.test_client().get(
            "/_test-remote", environ_base={"REMOTE_ADDR": "127.0.0.1"},
            headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.9"})
        assert response.get_data(as_text=True) == expected


def test_a_segment_chip_call_that_clicked_nothing_changes_nothing(client, deps, caplog):
    """The workspace's segment chips write the manager's filters (a wildcard output): a call
    with no click (n_clicks 0) answered a bare no_update, which Dash 4 refuses (a 500)."""
    dep = next(d for d in deps if d["output"].startswith('{"field":["ALL"],"type":"mgr-filter"}'))
    fields = ("product", "region", "plan")
    body = {"output": dep["output"],
            "outputs": [{"id": {"field": f, "type": "mgr-filter"}, "property": "value"}
                        for f in fields],
            "inputs": [[{"id": {"field": "product", "place": "card", "type": "ws-segment",
                                "value": "Ledger"}, "property": "n_clicks", "value": 0}]],
            "state": [[{"id": {"field": f, "type": "mgr-filter"}, "property": "value",
                        "value": None} for f in fields]],
            "changedPropIds": []}
    response = post_update(client, body)
    assert response.status_code == 204, response.get_data(as_text=True)[:300]
    assert_no_traceback(caplog)


def test_the_renderers_missing_source_map_is_a_404_without_a_traceback(client, caplog):
    """Browsers ask for it whenever devtools is open; Dash does not ship it, and the
    FileNotFoundError was a 500 with a traceback anyone could fill the log with."""
    page = client.get("/tv").get_data(as_text=True)
    renderer = next(src for src in re.findall(r'src="([^"]+)"', page) if "dash_renderer" in src)
    response = client.get(renderer.split("?")[0] + ".map")
    assert response.status_code == 404
    assert response.get_json()["problems"][0]["path"] == "path"
    assert_no_traceback(caplog)
