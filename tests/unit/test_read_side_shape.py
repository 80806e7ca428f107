"""The read side stays thin: no route handler longer than 40 lines, no SQL in ``api/``
except its one adapter (the access audit's table)."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
API = sorted((ROOT / "api").glob("*.py"))
API_ADAPTERS = {ROOT / "api" / "audit_log.py"}
"""The read side's own table is written and read here, and nowhere else in ``api/``."""

MAX_LINES = 40
_ROUTER_METHODS = {"get", "post", "put", "patch", "delete", "head", "options", "api_route"}
_SQL = re.compile(
    r"^\s*(SELECT|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|WITH\s+(RECURSIVE\s+)?\w+\s+AS"
    r"|CREATE\s+(TABLE|INDEX|UNIQUE)|ALTER\s+TABLE|DROP\s+TABLE|TRUNCATE)\b",
)
"""SQL as this codebase writes it: keywords in capitals (prose that starts "Select …" is not)."""

Function = ast.FunctionDef | ast.AsyncFunctionDef


def is_route(function: Function) -> bool:
    """Decorated with a router's method: ``@router.get(...)``, ``@app.post(...)``."""
    return any(
        isinstance(d, ast.Call)
        and isinstance(d.func, ast.Attribute)
        and d.func.attr in _ROUTER_METHODS
        for d in function.decorator_list
    )


def _functions(path: Path) -> Iterator[Function]:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def long_functions(
    paths: Iterable[Path], which: Callable[[Function], bool], max_lines: int = MAX_LINES
) -> list[str]:
    """``path:line name (n lines)`` of every function ``which`` selects that is longer
    than ``max_lines`` (decorators excluded, signature included)."""
    found = []
    for path in paths:
        for function in _functions(path):
            length = (function.end_lineno or function.lineno) - function.lineno + 1
            if which(function) and length > max_lines:
                found.append(f"{path.name}:{function.lineno} {function.name} ({length} lines)")
    return found


class _Strings(ast.NodeVisitor):
    """Every string literal with its line; an f-string as one, by its literal parts."""

    def __init__(self) -> None:
        self.found: list[tuple[int, str]] = []

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str):
            self.found.append((node.lineno, node.value))

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        parts = (v.value for v in node.values if isinstance(v, ast.Constant))
        self.found.append((node.lineno, "".join(str(p) for p in parts)))


def sql_literals(paths: Iterable[Path]) -> list[str]:
    """``path:line`` and the start of every string literal that begins as SQL does."""
    found = []
    for path in paths:
        strings = _Strings()
        strings.visit(ast.parse(path.read_text(), str(path)))
        found += [
            f"{path.name}:{line} {text.strip()[:40]!r}"
            for line, text in strings.found
            if _SQL.match(text)
        ]
    return found


def test_the_checks_see_what_they_look_for(tmp_path: Path) -> None:
    module = tmp_path / "routes.py"
    body = "\n".join(f"    x{i} = {i}" for i in range(45))
    module.write_text(
        "@router.get('/long')\nasync def long():\n" + body + "\n\n"
        "def helper():\n" + body + "\n\n"
        "@router.post('/short')\nasync def short(pool):\n"
        "    return await pool.fetch(f'SELECT * FROM {TABLE}')\n"
        "ddl = '''\n  CREATE TABLE t (x int)'''\nprose = 'Select the customer'\n"
    )
    assert [f.split()[1] for f in long_functions([module], is_route)] == ["long"]
    assert [f.split(" ", 1)[1] for f in sql_literals([module])] == [
        "'SELECT * FROM'",
        "'CREATE TABLE t (x int)'",
    ]


def test_no_route_handler_is_longer_than_40_lines() -> None:
    assert API, "api/ has modules"
    assert long_functions(API, is_route) == []


def test_no_sql_in_the_api_outside_its_adapter() -> None:
    assert sql_literals(API_ADAPTERS), "the check recognises the adapter's SQL"
    assert sql_literals(set(API) - API_ADAPTERS) == []
