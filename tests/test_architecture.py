"""The structure docs/architecture.md describes: imports point one way, nothing imports the
factory, and there is one way to reach the services. Built from the source, so a new import
that closes a circle fails here, type-only imports included."""

from __future__ import annotations

import ast
import re
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app"
# Modules that only assemble or start things; nothing else in the package may import them.
TOP = {"app.web", "app.server", "app.wsgi", "app.cli", "app.__main__"}


def module_name(path: Path) -> str:
    parts = path.relative_to(APP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in APP.rglob("*.py")}


def imports_of(path: Path, known: set[str]) -> set[str]:
    """Every app module ``path`` imports, wherever the import statement stands."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in known}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module in known:
                found.add(node.module)
            # ``from app import live`` imports the submodule app.live
            found |= {f"{node.module}.{a.name}" for a in node.names
                      if f"{node.module}.{a.name}" in known}
    me = module_name(path)
    # A module importing its own package (``from app.store import polling`` inside app.store)
    # reaches a sibling or the package's face, which re-exports its children: not a circle.
    ancestors = {me.rsplit(".", i)[0] for i in range(1, me.count(".") + 1)}
    return found - {me} - ancestors


def import_graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    # A package's __init__ is not an edge worth following: "app" itself imports nothing.
    return {name: imports_of(path, known) - {"app"} for name, path in mods.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as a path (first == last), or None."""
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_circle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_the_package_has_no_import_circle():
    assert find_cycle(import_graph()) is None


def test_nothing_below_the_top_imports_the_factory_or_the_servers():
    graph = import_graph()
    offenders = {name: sorted(deps & TOP) for name, deps in graph.items()
                 if name not in TOP and deps & TOP}
    assert offenders == {}


def test_services_are_reached_one_way():
    """``app.services.get_services`` is the only reader of the Flask extension."""
    readers = [name for name, path in modules().items()
               if 'extensions["nps_tv"]' in path.read_text() and name != "app.services"]
    assert readers == []


def calls_named(path: Path, names: set[str]) -> list[int]:
    """Lines of ``path`` that call one of ``names`` by its bare name (``Store(...)``; not
    ``dcc.Store(...)``, Dash's browser-side store)."""
    return [node.lineno for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id in names]


def test_stores_are_opened_one_way():
    """Outside the store package, a store comes from ``app.store.open_store`` only."""
    offenders = {name: lines for name, path in modules().items()
                 if not name.startswith("app.store")
                 and (lines := calls_named(path, {"Store", "create_engine", "Database"}))}
    assert offenders == {}


def test_window_strings_are_read_in_one_place():
    """Only ``app.windows`` takes an ``Nd`` window apart (``window[:-1]``, ``int(window...``)."""
    pattern = re.compile(r"window\w*\s*\[\s*:\s*-1\s*\]|int\(\s*\w*window", re.IGNORECASE)
    offenders = {name for name, path in modules().items()
                 if name != "app.windows" and pattern.search(path.read_text())}
    assert offenders == set()


def fixtures_in(path: Path) -> set[str]:
    """Names of the functions ``path`` decorates with ``pytest.fixture``."""
    def is_fixture(decorator: ast.expr) -> bool:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        return isinstance(target, ast.Attribute) and target.attr == "fixture"

    return {node.name for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.FunctionDef) and any(map(is_fixture, node.decorator_list))}


def test_shared_fixtures_are_declared_once_in_conftest():
    """A test module uses ``client``, ``dash_app``, ``settings`` ... from tests/conftest.py;
    a copy of one in a module would quietly shadow it."""
    tests = Path(__file__).resolve().parent
    shared = fixtures_in(tests / "conftest.py")
    assert {"settings", "store", "make_app", "dash_app", "client", "store_client"} <= shared
    copies = {path.name: sorted(fixtures_in(path) & shared)
              for path in sorted(tests.rglob("test_*.py")) if fixtures_in(path) & shared}
    assert copies == {}


MAX_MODULE_LINES = 400  # a module past this is asking to be split along a responsibility
MAX_FUNCTION_LINES = 60


def is_data_table(node: ast.stmt) -> bool:
    """A module-level constant (``NAME = ...``, ``_NAME: T = ...``): data, not logic."""
    targets = (node.targets if isinstance(node, ast.Assign)
               else [node.target] if isinstance(node, ast.AnnAssign) else [])
    return bool(targets) and all(isinstance(t, ast.Name) and t.id.lstrip("_").isupper()
                                 for t in targets)


def code_lines(tree: ast.Module, total: int) -> int:
    """Lines of a module not spent on data tables (module-level constants)."""
    tables = sum(node.end_lineno - node.lineno + 1 for node in tree.body if is_data_table(node))
    return total - tables


def oversized(name: str, source: str) -> list[str]:
    """What in one module is over the size limits, as "module: what (lines)"."""
    tree = ast.parse(source)
    found = []
    lines = code_lines(tree, len(source.splitlines()))
    if lines > MAX_MODULE_LINES:
        found.append(f"{name}: module of {lines} lines (data tables not counted)")
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = node.end_lineno - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                found.append(f"{name}: {node.name} is {length} lines")
    return found


def test_the_size_check_finds_long_functions_and_modules_but_not_data():
    long_function = "def f():\n" + "    x = 1\n" * MAX_FUNCTION_LINES
    assert oversized("m", long_function) == [f"m: f is {MAX_FUNCTION_LINES + 1} lines"]
    method = "class C:\n    async def g(self):\n" + "        x = 1\n" * MAX_FUNCTION_LINES
    assert oversized("m", method) == [f"m: g is {MAX_FUNCTION_LINES + 1} lines"]
    module = "x = 1\n" * (MAX_MODULE_LINES + 1)
    assert oversized("m", module) == [f"m: module of {MAX_MODULE_LINES + 1} lines "
                                      "(data tables not counted)"]
    table = "ROWS = (\n" + '    "row",\n' * (2 * MAX_MODULE_LINES) + ")\n"
    assert oversized("m", table) == []


def test_modules_and_functions_stay_small():
    """Every module in app/ under 400 lines and every function or method under 60."""
    offenders = [problem for name, path in sorted(modules().items())
                 for problem in oversized(name, path.read_text())]
    assert offenders == []
