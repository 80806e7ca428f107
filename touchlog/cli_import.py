"""``touchlog import``: a business unit's customer export (CSV) as ``profile.updated`` events.

touchlog import FILE.csv --source SYSTEM --business-unit BU --mapping MAPPING.yaml
touchlog import FILE.csv … --dry-run      how the first rows map; nothing is sent
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from events.documents import DocumentError
from events.envelope import Source
from touchlog import config_files
from touchlog.cli_common import Subparsers, aware, command, fail, publisher
from touchlog.settings import Settings

if TYPE_CHECKING:
    from producers.legacy import ExportMapping, ImportSummary


def register(subparsers: Subparsers) -> None:
    imports = subparsers.add_parser(
        "import",
        help="import a business unit's customer export (CSV) as profile.updated events",
        description="Import a business unit's customer export (CSV), one profile.updated per "
        "row. Example mappings, each with a sample CSV, are in examples/mappings/ (split and "
        "full-name columns, postcode-only and one-line addresses, several phones and emails, "
        "constants, date formats); try one with --dry-run.",
    )
    imports.add_argument("file", type=Path)
    imports.add_argument("--source", required=True, help="the exporting system, e.g. retail-crm")
    imports.add_argument("--business-unit", required=True, help="e.g. retail")
    imports.add_argument(
        "--mapping",
        type=Path,
        required=True,
        help="YAML: which column holds what; see examples/mappings/*.yaml",
    )
    imports.add_argument(
        "--region",
        help="read phone numbers without a country code as this region's, e.g. GB "
        "(default: the mapping's region, else TOUCHLOG_DEFAULT_REGION)",
    )
    imports.add_argument(
        "--dry-run",
        nargs="?",
        type=int,
        const=5,
        metavar="ROWS",
        help="show how the first ROWS rows (default 5) map; nothing is sent or recorded",
    )
    imports.add_argument(
        "--state", type=Path, help="resume file (default: DATA_DIR/imports/…, one per file)"
    )
    imports.add_argument(
        "--occurred-at",
        type=aware,
        help="time of rows without a last-modified value, ISO 8601 with offset (default: now)",
    )
    imports.add_argument("--restart", action="store_true", help="ignore the resume file")
    imports.set_defaults(func=command(import_export))


def _mapping(args: argparse.Namespace) -> tuple[ExportMapping, str, Source]:
    """The mapping file read, its digest, and the source the rows come from."""
    from producers import legacy

    mapping, mapping_sha = config_files.load_with_digest(args.mapping, legacy.parse_mapping)
    source = Source(system=args.source, business_unit=args.business_unit, channel=mapping.channel)
    return mapping, mapping_sha, source


async def import_export(settings: Settings, args: argparse.Namespace) -> int:
    from producers import legacy

    path: Path = args.file
    if not path.is_file():  # noqa: ASYNC240  # one stat before any work starts
        return fail(f"import: no such file: {path}")
    try:
        mapping, mapping_sha, source = _mapping(args)
    except (DocumentError, ValueError) as exc:
        return fail(f"import: {exc}")
    region = (args.region or mapping.region or settings.default_region).upper()
    if args.dry_run is not None:
        return _dry_run(path, mapping, source, region, args.dry_run)
    state = args.state or legacy.default_state_path(settings.data_dir, path, source)
    options = legacy.ImportOptions(restart=args.restart, region=region)
    try:
        async with publisher(settings, client_id="touchlog-import") as sink:
            summary = await legacy.import_export(
                path, mapping, mapping_sha, source, sink, state, args.occurred_at, options
            )
    except (legacy.MappingError, legacy.StateError) as exc:
        return fail(f"import: {exc}")
    _print_summary(path, state, summary)
    return 1 if summary.rejected else 0


def _dry_run(path: Path, mapping: ExportMapping, source: Source, region: str, rows: int) -> int:
    from datetime import UTC, datetime

    from producers import legacy

    try:
        shown = legacy.preview(path, mapping, source, region, datetime.now(UTC), rows)
    except legacy.MappingError as exc:
        return fail(f"import: {exc}")
    for text in shown:
        print(text)
    print(f"{path}: dry run, nothing sent")
    return 0


def _print_summary(path: Path, state: Path, summary: ImportSummary) -> None:
    for rejected in summary.rejected:
        print(f"{path}:{rejected}", file=sys.stderr)
    for line, problem in summary.left_out:
        print(f"{path}:line {line}: {problem}", file=sys.stderr)
    print(f"{path}: {summary} (resume file {state})")
