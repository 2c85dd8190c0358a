"""Requests to Dash's own routes that Dash would answer with a 500 get a 4xx instead.

Dash trusts the shape of ``/_dash-update-component`` bodies (its renderer wrote them) and raises
KeyError, AttributeError or CallbackException on anything else; it raises DependencyException
for an unknown script path. Each became a 500 with a logged traceback. Here a body is checked
against the callback it names before Dash sees it, so a hostile body is a 400 and a traceback
on that route still means a bug of ours.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from dash import Dash
from dash.exceptions import DependencyException
from flask import g, request

from app.ingest.http import ApiError, parse_json

UPDATE_ROUTE = "_dash-update-component"
# Pattern-matching (ALL) inputs arrive as one entry per matching component; the manager's
# filters are the only ones and have a handful. The body limit bounds the rest.
MAX_MATCHES = 200


def install_dash_guard(dash_app: Dash) -> None:
    """Check update bodies before Dash's dispatch, and answer 404 for unknown script paths."""
    server = dash_app.server
    update_path = dash_app.config.routes_pathname_prefix + UPDATE_ROUTE

    @server.before_request
    def check_update_body():
        if request.path != update_path or request.method != "POST":
            return None
        try:
            body = parse_json(request.get_data(cache=True))
            check_callback_body(body, dash_app.callback_map)
        except ApiError as exc:
            return exc.to_response()
        g.dash_body = body  # checked: app.poll_answer reads it rather than parse it again
        return None

    @server.errorhandler(DependencyException)
    def unknown_script(_exc: DependencyException):
        # Raised by Dash's serve_component_suites for a package or file it does not serve.
        return ApiError.single(404, "path", "is not a script this server serves",
                               error="not found").to_response()

    suites = dash_app.config.routes_pathname_prefix + "_dash-component-suites/"

    @server.errorhandler(FileNotFoundError)
    def missing_script_file(exc: FileNotFoundError):
        # A file of a package Dash serves that is not shipped (the renderer's source map,
        # which browsers ask for with devtools open): a 404, not a 500 and a traceback that
        # anyone could fill the log with. Elsewhere it is a bug: raised on.
        if not request.path.startswith(suites):
            raise exc
        return unknown_script(DependencyException(str(exc)))


def check_callback_body(body: Any, callback_map: Mapping[str, Mapping[str, Any]]) -> None:
    """Raise ApiError (400) unless ``body`` is a well-formed call of a server-side callback."""
    if not isinstance(body, dict):
        raise _bad("body", "must be a JSON object")
    output = body.get("output")
    callback = callback_map.get(output) if isinstance(output, str) else None
    if callback is None or "callback" not in callback:
        raise _bad("output", f"names no server-side callback: {_show(output)}")
    expected_outputs = callback["output"]
    if isinstance(expected_outputs, list | tuple):
        outputs = body.get("outputs")
        if not isinstance(outputs, list) or len(outputs) != len(expected_outputs):
            raise _bad("outputs", f"must be a list of {len(expected_outputs)} outputs")
        for i, (spec, want) in enumerate(zip(outputs, expected_outputs, strict=True)):
            _check_ref(f"outputs[{i}]", spec, want.component_id, want.component_property)
    elif "outputs" in body:
        _check_ref("outputs", body["outputs"], expected_outputs.component_id,
                   expected_outputs.component_property)
    for key in ("inputs", "state"):
        given, wanted = body.get(key, []), callback[key]
        if not isinstance(given, list) or len(given) != len(wanted):
            raise _bad(key, f"must be a list of {len(wanted)} entries")
        for i, (item, want) in enumerate(zip(given, wanted, strict=True)):
            _check_ref(f"{key}[{i}]", item, want["id"], want["property"])
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(c, str) for c in changed):
        raise _bad("changedPropIds", "must be a list of strings")
    for i, prop_id in enumerate(changed):
        _check_prop_id(f"changedPropIds[{i}]", prop_id)


def _check_prop_id(path: str, prop_id: str) -> None:
    """``<id>.<property>``; an id that starts with ``{`` must be a JSON object (Dash parses
    it to tell which component fired, and would fail with a 500)."""
    component, dot, prop = prop_id.rpartition(".")
    if not dot or not component or not prop:
        raise _bad(path, "must be <component id>.<property>")
    if component.startswith("{"):
        try:
            parsed = json.loads(component)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise _bad(path, "a pattern-matching id must be a JSON object")


def _check_ref(path: str, item: Any, want_id: Any, want_property: str) -> None:
    pattern = _pattern(want_id)
    if pattern is not None:  # a wildcard: a list of concrete components of that pattern
        if not isinstance(item, list) or len(item) > MAX_MATCHES:
            raise _bad(path, f"must be a list of at most {MAX_MATCHES} components")
        for j, entry in enumerate(item):
            if not isinstance(entry, dict) or _clean(entry.get("property")) != want_property:
                raise _bad(f"{path}[{j}]", f"must name property {want_property!r}")
            ident = entry.get("id")
            if not isinstance(ident, dict) or ident.keys() != pattern.keys() or not all(
                    isinstance(v, str | int | float | bool) for v in ident.values()):
                raise _bad(f"{path}[{j}].id", "does not match the callback's pattern")
        return
    if not isinstance(item, dict) or item.get("id") != want_id \
            or _clean(item.get("property")) != want_property:
        raise _bad(path, f"must be component {want_id!r} property {want_property!r}")


def _clean(prop: Any) -> Any:
    # Outputs declared with allow_duplicate carry "@<hash>" after the property name.
    return prop.split("@", 1)[0] if isinstance(prop, str) else prop


def _pattern(component_id: Any) -> dict | None:
    """The wildcard id of a pattern-matching dependency (stringified by Dash), else None."""
    if isinstance(component_id, dict):
        return component_id
    if isinstance(component_id, str) and component_id.startswith("{"):
        try:
            parsed = json.loads(component_id)
        except ValueError:
            return None
        return parsed if isinstance(parsed, dict) else None
    return None


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _bad(path: str, message: str) -> ApiError:
    return ApiError.single(400, path, message)


# What a page keeps in the browser (dcc.Store, Location, dropdowns) comes back in the body
# of a request anyone can hand-make: callbacks read it through these, never as trusted.

def client_text(value: Any) -> str | None:
    """A text property (a URL's pathname or search, a dropdown value), or None."""
    return value if isinstance(value, str) else None


def client_query(config: Any) -> dict[str, str]:
    """The URL query a page's config store carries, keeping only text keys and values."""
    query = config.get("query") if isinstance(config, dict) else None
    if not isinstance(query, dict):
        return {}
    return {k: v for k, v in query.items() if isinstance(k, str) and isinstance(v, str)}


def client_state(state: Any) -> dict | None:
    """A screen's state store as the server wrote it, or None when it is anything else."""
    if not isinstance(state, dict) or not isinstance(state.get("hashes", {}), dict):
        return None
    return state


def client_choices(values: Any, count: int) -> list[list[str] | None]:
    """Segment filter selections: per filter a list of text values or None."""
    values = values if isinstance(values, list) else []
    chosen = [[v for v in value if isinstance(v, str)] if isinstance(value, list) else None
              for value in values[:count]]
    return chosen + [None] * (count - len(chosen))
