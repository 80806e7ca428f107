"""The README and ``docs/`` as tests (eventsourcing's ``test_docs.py``).

- every ```python example runs (one namespace per file, in order); those marked
  ``<!-- needs: broker -->`` run in ``tests/integration/test_docs_examples.py``;
- every ```yaml example is a valid file for the setting or option its
  ``<!-- file: … -->`` marker names, read by the loader touchlog itself uses;
- every ``touchlog …`` command, subcommand and ``--option`` named in shell examples or
  inline code exists in the parser ``touchlog.cli`` builds; every ``make`` target in the
  Makefile; every ``python -m benchmarks.…`` module in ``benchmarks/``;
- every route named in a table exists in the app that serves it, and every route is
  documented;
- every ``TOUCHLOG_*`` variable named is a setting, and every setting is in
  docs/CONFIGURATION.md;
- every relative link (and its ``#anchor``) resolves; the README stays short.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import inspect
import re
import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from pydantic import AliasChoices

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
ALL_DOCS = [README, *DOCS]
README_MAX_LINES = 220

SHELL = {"sh", "bash", "console", "shell"}
NEEDS_BROKER = "needs: broker"


@dataclass(frozen=True)
class Block:
    """A fenced code block: its language, text, first line and the marker above it."""

    path: Path
    line: int
    lang: str
    text: str
    marker: str | None  # an HTML comment on the line just above the fence

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def blocks(path: Path) -> list[Block]:
    found: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        fence = re.match(r"^(```+)\s*([\w+-]*)", lines[i])
        if not fence:
            i += 1
            continue
        previous = lines[i - 1].strip() if i else ""
        comment = re.fullmatch(r"<!--\s*(.*?)\s*-->", previous)
        end = i + 1
        while end < len(lines) and not lines[end].startswith(fence.group(1)):
            end += 1
        found.append(
            Block(
                path,
                i + 2,
                fence.group(2).lower(),
                "\n".join(lines[i + 1 : end]) + "\n",
                comment.group(1) if comment else None,
            )
        )
        i = end + 1
    return found


def prose(path: Path) -> str:
    """The text outside fenced blocks."""
    return re.sub(r"^```.*?^```[^\n]*$", "", path.read_text(encoding="utf-8"), flags=re.M | re.S)


def code_spans(path: Path) -> list[str]:
    return [span.replace("\\|", "|") for span in re.findall(r"`([^`\n]+)`", prose(path))]


def python_blocks(path: Path) -> list[Block]:
    return [b for b in blocks(path) if b.lang == "python"]


async def run_python(examples: list[Block], namespace: dict[str, Any]) -> None:
    """Run examples in order in one namespace; top-level ``await`` is allowed."""
    for block in examples:
        code = compile(block.text, block.where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        result = eval(code, namespace)  # noqa: S307  # our own documentation's examples
        if inspect.iscoroutine(result):
            await result


# -- the README ---------------------------------------------------------------------------


def test_the_readme_is_short() -> None:
    lines = len(README.read_text(encoding="utf-8").splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move reference to docs/"


# -- Python examples ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [p for p in ALL_DOCS if python_blocks(p)],
    ids=lambda p: str(p.relative_to(ROOT)),
)
async def test_python_examples_run(path: Path) -> None:
    examples = [b for b in python_blocks(path) if b.marker != NEEDS_BROKER]
    await run_python(examples, {"__name__": f"docs:{path.name}"})


def test_python_examples_carry_only_known_markers() -> None:
    unknown = [
        b.where for p in ALL_DOCS for b in python_blocks(p) if b.marker not in (None, NEEDS_BROKER)
    ]
    assert unknown == []


def test_there_are_examples_to_run() -> None:
    readme = python_blocks(README)
    assert any(b.marker is None for b in readme)
    assert any(b.marker == NEEDS_BROKER for b in readme)


# -- YAML examples ------------------------------------------------------------------------


def _in_settings(field: str, loader: str) -> Callable[[Path], Any]:
    """Load the file as the setting ``field`` names it, with ``touchlog.bootstrap``'s loader."""

    def load(path: Path) -> Any:
        from touchlog import bootstrap
        from touchlog.settings import Settings

        return getattr(bootstrap, loader)(Settings.model_validate({field: path}))

    return load


def _track_rules(path: Path) -> Any:
    from producers.gateway import read_rules
    from touchlog import config_files

    return config_files.load(path, read_rules)


def _import_mapping(path: Path) -> Any:
    from producers.legacy import parse_mapping
    from touchlog import config_files

    return config_files.load(path, parse_mapping)


YAML_LOADERS: dict[str, Callable[[Path], Any]] = {
    "TOUCHLOG_TRIGGER_RULES": _in_settings("trigger_rules", "trigger_rules"),
    "TOUCHLOG_IDENTITY_RULES": _in_settings("identity_rules", "identity_rules"),
    "TOUCHLOG_WEBHOOKS_FILE": _in_settings("webhooks_file", "webhook_subscribers"),
    "TOUCHLOG_API_TOKENS_FILE": _in_settings("api_tokens_file", "api_tokens"),
    "TOUCHLOG_GATEWAY_TRACK_MAPPING": _track_rules,
    "touchlog import --mapping": _import_mapping,
}

YAML_BLOCKS = [b for p in ALL_DOCS for b in blocks(p) if b.lang in ("yaml", "yml")]


def test_every_yaml_example_names_what_reads_it() -> None:
    unnamed = [
        b.where
        for b in YAML_BLOCKS
        if not (b.marker and b.marker.startswith("file: ") and b.marker[6:] in YAML_LOADERS)
    ]
    assert unnamed == [], f"mark them <!-- file: X --> with X one of {sorted(YAML_LOADERS)}"


@pytest.mark.parametrize("block", YAML_BLOCKS, ids=lambda b: b.where)
def test_yaml_examples_are_valid_files(block: Block, tmp_path: Path) -> None:
    assert block.marker is not None
    path = tmp_path / "example.yaml"
    path.write_text(block.text, encoding="utf-8")
    loaded = YAML_LOADERS[block.marker.removeprefix("file: ")](path)
    assert loaded  # a file that loads to nothing documents nothing


# -- commands -----------------------------------------------------------------------------


def root_parser() -> argparse.ArgumentParser:
    """The parser ``touchlog.cli`` builds, whatever its builder is called."""
    from touchlog import cli

    builders = [
        f
        for _, f in inspect.getmembers(cli, inspect.isfunction)
        if f.__module__ == cli.__name__
        and not inspect.signature(f).parameters
        and inspect.signature(f).return_annotation
        in (argparse.ArgumentParser, "argparse.ArgumentParser", "ArgumentParser")
    ]
    assert len(builders) == 1, f"one parser builder expected in touchlog.cli: {builders}"
    parser: argparse.ArgumentParser = builders[0]()
    return parser


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _shell_commands(program: str) -> Iterator[tuple[str, list[str]]]:
    """(where, words after ``program``) of every use in shell examples and inline code."""
    for path in ALL_DOCS:
        name = str(path.relative_to(ROOT))
        for block in blocks(path):
            if block.lang not in SHELL:
                continue
            for n, raw in enumerate(block.text.replace("\\\n", " ").splitlines()):
                line = re.sub(r"^\s*\$\s+", "", raw)
                line = re.split(r"\s#", line, maxsplit=1)[0]
                try:
                    words = shlex.split(line)
                except ValueError:  # an open quote: a multi-line argument (curl -d '…')
                    continue
                if program in words:
                    yield f"{block.where}+{n}", words[words.index(program) + 1 :]
        for span in code_spans(path):
            if span.startswith(program + " "):
                yield f"{name}: `{span}`", span.split()[1:]


def _option_problems(words: list[str], parser: argparse.ArgumentParser) -> list[str]:
    problems = []
    descending = True
    for raw in words:
        word = raw.strip("[]")
        if not word or word in ("…", "...") or word.startswith("<"):
            continue
        if word.startswith("-"):
            option = word.split("=", 1)[0]
            if option not in parser._option_string_actions:
                problems.append(f"{parser.prog}: no option {option}")
            continue
        subcommands = _subcommands(parser)
        if not (descending and subcommands):
            continue  # an argument or an option's value
        alternatives = word.split("|")
        missing = [a for a in alternatives if a not in subcommands]
        if missing:
            problems.append(f"{parser.prog}: no subcommand {'|'.join(missing)}")
            return problems
        if len(alternatives) > 1:
            return problems  # `identity report|confirm`: options would be ambiguous
        parser = subcommands[word]
    return problems


def test_touchlog_commands_and_options_exist() -> None:
    parser = root_parser()
    uses = list(_shell_commands("touchlog"))
    assert len(uses) > 20
    problems = [f"{where}: {p}" for where, words in uses for p in _option_problems(words, parser)]
    assert problems == []


def test_every_touchlog_command_is_documented() -> None:
    commands = _subcommands(root_parser())
    expected = set()
    for name, command in commands.items():
        expected |= {f"{name} {sub}" for sub in _subcommands(command)} or {name}
    documented = set()
    for _, words in _shell_commands("touchlog"):
        if not words or words[0] not in commands:
            continue
        if _subcommands(commands[words[0]]) and len(words) > 1:
            documented |= {f"{words[0]} {sub}" for sub in words[1].strip("[]").split("|")}
        else:
            documented.add(words[0])
    assert expected - documented == set()


def _make_targets() -> set[str]:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([A-Za-z][\w-]*):", makefile, flags=re.M))


def test_make_targets_exist() -> None:
    targets = _make_targets()
    assert {"run", "test"} <= targets
    named = [(where, words[0]) for where, words in _shell_commands("make") if words]
    assert {t for _, t in named} >= {"run", "test"}
    assert [(where, t) for where, t in named if t not in targets] == []


def test_benchmark_modules_exist() -> None:
    modules = {
        m for p in ALL_DOCS for m in re.findall(r"python -m (benchmarks\.\w+)", p.read_text())
    }
    assert modules
    assert [m for m in modules if importlib.util.find_spec(m) is None] == []


# -- routes -------------------------------------------------------------------------------

ROUTE = re.compile(r"^(GET|POST|PUT|PATCH|DELETE) (/[^\s?]*)")


def _normalised(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


def documented_routes(path: Path) -> set[tuple[str, str]]:
    return {
        (m.group(1), _normalised(m.group(2)))
        for span in code_spans(path)
        if (m := ROUTE.match(span))
    }


FASTAPI_DOCS = {("GET", "/docs"), ("GET", "/openapi.json")}


def served_routes(app: FastAPI, *, with_docs: bool) -> set[tuple[str, str]]:
    """The routes in the app's OpenAPI document (and FastAPI's own docs pages)."""
    served = {
        (method.upper(), _normalised(path))
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }
    return served | FASTAPI_DOCS if with_docs else served


def read_api() -> FastAPI:
    from api import create_app

    return create_app("postgresql://unused/")


def gateway_api() -> FastAPI:
    from producers.gateway import GatewayConfig, create_gateway

    return create_gateway(GatewayConfig("unused:9092", "postgresql://unused/"))


@pytest.mark.parametrize(
    ("doc", "app"), [("API.md", read_api), ("GATEWAY.md", gateway_api)], ids=["api", "gateway"]
)
def test_documented_routes_are_served_and_served_routes_documented(
    doc: str, app: Callable[[], FastAPI]
) -> None:
    documented = documented_routes(ROOT / "docs" / doc)
    assert documented - served_routes(app(), with_docs=True) == set()
    assert served_routes(app(), with_docs=False) - documented == set()


def test_the_readme_names_only_served_routes() -> None:
    served = served_routes(read_api(), with_docs=True) | served_routes(
        gateway_api(), with_docs=True
    )
    named = documented_routes(README)
    assert len(named) > 10
    assert named - served == set()


# -- settings -----------------------------------------------------------------------------


def setting_names() -> dict[str, set[str]]:
    """Each setting's field name → the environment variables that set it."""
    from touchlog.settings import Settings

    prefix = Settings.model_config.get("env_prefix", "")
    names = {}
    for field, info in Settings.model_fields.items():
        alias = info.validation_alias
        names[field] = (
            {str(c) for c in alias.choices}
            if isinstance(alias, AliasChoices)
            else {f"{prefix}{field}".upper()}
        )
    return names


def _test_only_variables() -> set[str]:
    """Variables the test suite reads (e.g. TOUCHLOG_FAULT_DEMO_RUNS): not settings."""
    return {
        name
        for path in (ROOT / "tests").rglob("*.py")
        for name in re.findall(r"\bTOUCHLOG_[A-Z_]+\b", path.read_text(encoding="utf-8"))
        if "environ" in path.read_text(encoding="utf-8")
    }


def test_every_variable_named_is_a_setting() -> None:
    settings = set().union(*setting_names().values())
    allowed = settings | (_test_only_variables() - {"TOUCHLOG_"})
    unknown = {
        f"{p.relative_to(ROOT)}: {name}"
        for p in ALL_DOCS
        for name in re.findall(r"\b(TOUCHLOG_[A-Z_]*[A-Z]|DATABASE_URL)\b", p.read_text())
        if name not in allowed
    }
    assert unknown == set()


def test_every_setting_is_in_the_configuration_reference() -> None:
    reference = (ROOT / "docs" / "CONFIGURATION.md").read_text(encoding="utf-8")
    missing = [
        field
        for field, names in setting_names().items()
        if not any(f"`{name}`" in reference for name in names)
    ]
    assert missing == []


# -- links --------------------------------------------------------------------------------


def anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces → hyphens."""
    seen: dict[str, int] = {}
    found = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*$", prose(path), flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def test_relative_links_resolve() -> None:
    broken = []
    checked = 0
    for path in ALL_DOCS:
        for target in re.findall(r"\[[^\]]*\]\(([^)\s]+)\)", prose(path)):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
                continue
            file, _, anchor = target.partition("#")
            resolved = (path.parent / file).resolve() if file else path
            checked += 1
            if not resolved.exists():
                broken.append(f"{path.relative_to(ROOT)}: {target} (no such file)")
            elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
                broken.append(f"{path.relative_to(ROOT)}: {target} (no such heading)")
    assert checked > 10
    assert broken == []


def test_every_doc_is_linked_from_the_readme() -> None:
    readme = README.read_text(encoding="utf-8")
    assert [d.name for d in DOCS if f"(docs/{d.name})" not in readme] == []
