"""``touchlog schemas``: the event contracts from the command line.

touchlog schemas list                  every type: versions, default channel, family
touchlog schemas show TYPE [--version N]  a type's JSON Schema
touchlog schemas validate FILE|-       check events (JSONL, or a JSON array) against the
                                       contracts and their x-rules, sending nothing
touchlog schemas generate              write schemas/ from the models
touchlog schemas check                 schemas/ matches the models, compatibly (CI)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from events import EVENT_TYPES, FieldError, contracts, versions_of
from events.catalogue import FAMILY_OF
from events.conformance import Contracts, read_exactly

DEFAULT_DIR = Path(__file__).resolve().parents[1] / "schemas"
"""The checked-in contracts, beside the package in a source checkout."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    schemas = subparsers.add_parser(
        "schemas", help="list, show, validate against and generate the event contracts"
    )
    commands = schemas.add_subparsers(dest="schemas_command", required=True, metavar="COMMAND")

    listing = commands.add_parser("list", help="every event type and its versions")
    listing.set_defaults(func=list_types)

    show = commands.add_parser("show", help="print a type's JSON Schema")
    show.add_argument("type", help="an event type, e.g. call.logged")
    show.add_argument("--version", type=int, help="a published version (default: current)")
    show.set_defaults(func=show_schema)

    dir_help = "the contracts' folder (default: %(default)s)"
    validate = commands.add_parser(
        "validate",
        help="check events against the contracts (JSON Schema and x-rules), sending nothing",
    )
    validate.add_argument("file", help="JSONL, or a JSON array or object; - for stdin")
    validate.add_argument("--dir", type=Path, default=DEFAULT_DIR, help=dir_help)
    validate.set_defaults(func=validate_file)

    write = commands.add_parser("generate", help="write the contracts from the models")
    write.add_argument("--dir", type=Path, default=DEFAULT_DIR, help=dir_help)
    write.add_argument(
        "--allow-breaking",
        action="store_true",
        help="overwrite a published version incompatibly (it breaks its producers)",
    )
    write.set_defaults(func=generate)

    verify = commands.add_parser("check", help="fail on stale contracts or incompatible changes")
    verify.add_argument("--dir", type=Path, default=DEFAULT_DIR, help=dir_help)
    verify.set_defaults(func=check)


def list_types(args: argparse.Namespace) -> int:
    rows = [
        (
            name,
            ",".join(f"v{v}" for v in versions_of(name)),
            cls.default_channel.value,
            FAMILY_OF[name],
            (cls.__doc__ or "").strip().splitlines()[0],
        )
        for name, cls in EVENT_TYPES.items()
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[4]
        )
    return 0


def show_schema(args: argparse.Namespace) -> int:
    if args.type not in EVENT_TYPES:
        print(
            f"touchlog schemas: unknown type {args.type!r}; see `touchlog schemas list`",
            file=sys.stderr,
        )
        return 2
    versions = versions_of(args.type)
    version = args.version or max(versions)
    if version not in versions:
        known = ", ".join(str(v) for v in versions)
        print(
            f"touchlog schemas: {args.type} has no version {version} (has {known})", file=sys.stderr
        )
        return 2
    print(contracts.render(contracts.type_schema(versions[version])), end="")
    return 0


def validate_file(args: argparse.Namespace) -> int:
    """Each event against its published JSON Schema, then the x-rules (the models')."""
    name: str = args.file
    if name == "-":
        text = sys.stdin.read()
    elif Path(name).is_file():
        text = Path(name).read_text(encoding="utf-8")
    else:
        print(f"touchlog schemas validate: no such file: {name}", file=sys.stderr)
        return 2
    published = Contracts.load(args.dir)
    valid: Counter[str] = Counter()
    rejected = 0
    for where, document in _documents(text):
        errors = (
            published.errors(document)
            if isinstance(document, dict)
            else [FieldError("(line)", "expected a JSON object")]
            if not isinstance(document, FieldError)
            else [document]
        )
        if errors:
            rejected += 1
            print(f"{name}:{where}: " + "; ".join(str(e) for e in errors), file=sys.stderr)
        else:
            valid[str(document["type"])] += 1
    by_type = ", ".join(f"{kind} {count}" for kind, count in sorted(valid.items()))
    print(f"{sum(valid.values())} valid, {rejected} invalid" + (f" ({by_type})" if by_type else ""))
    return 1 if rejected else 0


def _documents(text: str) -> Iterator[tuple[str, Any]]:
    """(where, document) for a JSON array's items, a JSON object, or each JSONL line;
    a line that is not JSON comes as the ``FieldError`` that says so."""
    stripped = text.strip()
    if stripped.startswith("[") or (stripped.startswith("{") and "\n" in stripped):
        try:
            whole = read_exactly(stripped)
        except json.JSONDecodeError:
            pass  # not one JSON document: JSON lines
        else:
            items = whole if isinstance(whole, list) else [whole]
            for number, item in enumerate(items, start=1):
                yield f"item {number}", item
            return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield f"line {number}", read_exactly(line)
        except json.JSONDecodeError as exc:
            yield f"line {number}", FieldError("(line)", f"not valid JSON: {exc.msg}")


def generate(args: argparse.Namespace) -> int:
    try:
        changed = contracts.write(args.dir, allow_breaking=args.allow_breaking)
    except ValueError as exc:
        print(f"touchlog schemas generate: {exc}", file=sys.stderr)
        print("Publish a new version with an upcaster instead.", file=sys.stderr)
        return 1
    for path in changed:
        print(f"wrote {path}")
    print(f"{len(changed)} file(s) changed in {args.dir}")
    return 0


def check(args: argparse.Namespace) -> int:
    problems = contracts.check(args.dir)
    for problem in problems:
        kind = "incompatible: " if problem.breaking else ""
        print(f"{args.dir / problem.file}: {kind}{problem.problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"{args.dir}: {len(contracts.generate())} contracts match the models")
    return 0
