"""Legacy consolidation from the command line.

touchlog import FILE.csv --source SYSTEM --business-unit BU --mapping MAPPING.yaml
touchlog identity report [--json]          merges made, suspected duplicates
touchlog identity confirm A B --by NAME    one person: publishes customer.merged
touchlog identity reject A B --by NAME     different people: not suspected again
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from events.documents import DocumentError
from events.envelope import Channel, Source
from events.touchpoints import (
    CustomerMerged,
    CustomerMergedPayload,
    CustomerSplit,
    CustomerSplitPayload,
)
from events.touchpoints.identity import Identifier, IdentifierType
from projections.db import create_tables
from projections.identity import postgres as identity_store
from projections.identity import report
from projections.timeline.postgres import TABLE as TIMELINE
from touchlog import bootstrap, config_files
from touchlog.settings import Settings

DECISIONS = Source(system="touchlog-identity-cli", business_unit="group", channel=Channel.APP)
"""Where a person's identity decisions come from."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    imports = subparsers.add_parser(
        "import", help="import a business unit's customer export (CSV) as profile.updated events"
    )
    imports.add_argument("file", type=Path)
    imports.add_argument("--source", required=True, help="the exporting system, e.g. retail-crm")
    imports.add_argument("--business-unit", required=True, help="e.g. retail")
    imports.add_argument("--mapping", type=Path, required=True, help="YAML: column → field")
    imports.add_argument(
        "--state", type=Path, help="resume file (default: DATA_DIR/imports/…, one per file)"
    )
    imports.add_argument(
        "--occurred-at",
        type=_aware,
        help="time of rows without a last-modified value, ISO 8601 with offset (default: now)",
    )
    imports.add_argument("--restart", action="store_true", help="ignore the resume file")
    imports.set_defaults(func=_command(import_export))

    identity = subparsers.add_parser(
        "identity", help="identity report: merges made, suspected duplicates to decide"
    )
    commands = identity.add_subparsers(dest="identity_command", required=True, metavar="COMMAND")
    listing = commands.add_parser("report", help="merges made and suspected duplicates")
    listing.add_argument("--json", action="store_true", help="one JSON document")
    listing.set_defaults(func=_command(show_report))

    confirm_ = commands.add_parser("confirm", help="two customers are one person: merge them")
    confirm_.add_argument("customer")
    confirm_.add_argument("other")
    confirm_.add_argument("--by", required=True, help="who decided")
    confirm_.add_argument("--reason", default="confirmed duplicate")
    confirm_.add_argument("--survivor", help="the customer to keep (default: the older of the two)")
    confirm_.set_defaults(func=_command(confirm))

    split_ = commands.add_parser(
        "split", help="undo a wrong merge: NEW takes identifiers back from ORIGINAL"
    )
    split_.add_argument("original", help="the surviving customer of the wrong merge")
    split_.add_argument("new", help="the customer merged into it by mistake, or a new id")
    split_.add_argument(
        "--identifier",
        action="append",
        default=[],
        metavar="KEY",
        help="identifier to move, e.g. email:ann@x.com or phone:+33628230455 (repeatable); "
        "default: those NEW held before the merge",
    )
    split_.add_argument("--by", required=True, help="who decided")
    split_.add_argument("--reason", default="not the same person")
    split_.set_defaults(func=_command(split))

    reject_ = commands.add_parser("reject", help="two customers are different people")
    reject_.add_argument("customer")
    reject_.add_argument("other")
    reject_.add_argument("--by", required=True, help="who decided")
    reject_.add_argument("--reason")
    reject_.set_defaults(func=_command(reject))


def _aware(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs an offset, e.g. 2024-05-01T00:00+02:00")
    return moment.astimezone(UTC)


def _command(
    command: Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]],
) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from touchlog.cli import _async  # the CLI's one way of running a command (a cycle)

        return _async(command)(args)

    return run


def _fail(message: str, code: int = 2) -> int:
    print(f"touchlog: {message}", file=sys.stderr)
    return code


async def import_export(settings: Settings, args: argparse.Namespace) -> int:
    from producers import Publisher, legacy

    path: Path = args.file
    if not path.is_file():  # noqa: ASYNC240  # one stat before any work starts
        return _fail(f"import: no such file: {path}")
    try:
        mapping, mapping_sha = config_files.load_with_digest(args.mapping, legacy.parse_mapping)
        source = Source(
            system=args.source, business_unit=args.business_unit, channel=mapping.channel
        )
    except (DocumentError, ValueError) as exc:
        return _fail(f"import: {exc}")
    state = args.state or legacy.default_state_path(settings.data_dir, path, source)
    endpoints = bootstrap.configured_endpoints(settings)
    try:
        async with Publisher(
            endpoints.bootstrap_servers,
            topic=settings.topic_touchpoints,
            idempotence=endpoints.idempotence,
            client_id="touchlog-import",
        ) as publisher:
            summary = await legacy.import_export(
                path,
                mapping,
                mapping_sha,
                source,
                publisher,
                state,
                args.occurred_at,
                legacy.ImportOptions(restart=args.restart),
            )
    except (legacy.MappingError, legacy.StateError) as exc:
        return _fail(f"import: {exc}")
    for rejected in summary.rejected:
        print(f"{path}:{rejected}", file=sys.stderr)
    for line, problem in summary.left_out:
        print(f"{path}:line {line}: {problem}", file=sys.stderr)
    print(f"{path}: {summary} (resume file {state})")
    return 1 if summary.rejected else 0


async def _connect(settings: Settings) -> asyncpg.Connection:
    conn = await asyncpg.connect(bootstrap.configured_endpoints(settings).database_url)
    present = await conn.fetchval(
        "SELECT to_regclass('identity_customers') IS NOT NULL "
        "AND to_regclass($1::text) IS NOT NULL",
        TIMELINE,
    )
    if present:
        await create_tables(conn, report.SCHEMA)
        return conn
    await conn.close()
    raise SystemExit(
        "touchlog: no identity graph or timeline in this database yet; "
        "run `touchlog init` (or `touchlog up`) first"
    )


async def show_report(settings: Settings, args: argparse.Namespace) -> int:
    conn = await _connect(settings)
    try:
        found = await report.identity_report(conn)
    finally:
        await conn.close()
    if args.json:
        print(json.dumps(found.as_json(), indent=2))
        return 0
    print(f"Merges made: {len(found.merges)}")
    for m in found.merges:
        undone = "" if m.in_effect else "  (undone by a split)"
        print(
            f"  {m.merged_at:%Y-%m-%d %H:%M}  {m.merged} into {m.survivor}{undone}\n    {m.reason}"
        )
    suspected = found.suspected_duplicates
    print(f"Suspected duplicates (same name and postcode, not merged): {len(suspected)}")
    for s in suspected:
        print(f"  {s.customer} {s.other}  {s.name}, {s.postal_code} {s.country}")
        for customer, identifiers in s.identifiers.items():
            print(f"    {customer}: {', '.join(identifiers) or '(no identifiers)'}")
    if suspected:
        print(
            "Decide with: touchlog identity confirm|reject CUSTOMER OTHER --by NAME",
            file=sys.stderr,
        )
    return 0


async def confirm(settings: Settings, args: argparse.Namespace) -> int:
    from producers import Publisher

    conn = await _connect(settings)
    try:
        survivor, merged = await report.merge_decision(
            conn, args.customer, args.other, args.survivor
        )
    except (LookupError, ValueError) as exc:
        return _fail(f"identity confirm: {exc}")
    finally:
        await conn.close()
    event = merge_confirmed(survivor, merged, args.by, args.reason)
    endpoints = bootstrap.configured_endpoints(settings)
    async with Publisher(
        endpoints.bootstrap_servers,
        topic=settings.topic_touchpoints,
        idempotence=endpoints.idempotence,
        client_id="touchlog-identity",
    ) as publisher:
        await publisher.publish(event)
    print(f"merging {merged} into {survivor}: published customer.merged {event.message_id}")
    return 0


def merge_confirmed(survivor: str, merged: str, by: str, reason: str) -> CustomerMerged:
    """A person's confirmed merge, as the resolver applies it."""
    return CustomerMerged(
        message_id=str(uuid.uuid4()),
        occurred_at=datetime.now(UTC),
        source=DECISIONS,
        subject={"customer_id": survivor},
        payload=CustomerMergedPayload(
            surviving_customer_id=survivor,
            merged_customer_ids=(merged,),
            reason=reason,
            merged_by=by,
        ),
    )


async def reject(settings: Settings, args: argparse.Namespace) -> int:
    conn = await _connect(settings)
    try:
        a, b = await report.reject_pair(conn, args.customer, args.other, args.by, args.reason)
    except (LookupError, ValueError) as exc:
        return _fail(f"identity reject: {exc}")
    finally:
        await conn.close()
    print(f"{a} and {b} are different people: no longer suspected")
    return 0


async def split(settings: Settings, args: argparse.Namespace) -> int:
    from producers import Publisher

    conn = await _connect(settings)
    try:
        survivor = await identity_store.survivor_of(conn, args.original)
        if survivor != args.original:
            return _fail(
                f"identity split: {args.original} is "
                + ("unknown" if survivor is None else f"merged into {survivor}")
            )
        keys = args.identifier or [
            r["identifier"]
            for r in await conn.fetch(
                "SELECT identifier FROM identity_links WHERE customer_id = $1 ORDER BY 1", args.new
            )
        ]
        merge = await conn.fetchval(
            "SELECT message_id FROM identity_merges WHERE survivor = $1 AND merged = $2 "
            "ORDER BY merged_at DESC LIMIT 1",
            args.original,
            args.new,
        )
    finally:
        await conn.close()
    if not keys:
        return _fail(f"identity split: no identifiers to move to {args.new}; give --identifier")
    try:
        moved = [_payload_identifier(key) for key in keys]
    except ValueError as exc:
        return _fail(f"identity split: {exc}")
    event = CustomerSplit(
        occurred_at=datetime.now(UTC),
        source=DECISIONS,
        subject={"customer_id": args.original},
        payload=CustomerSplitPayload(
            original_customer_id=args.original,
            new_customer_id=args.new,
            identifiers_moved=tuple(moved),
            reason=args.reason,
            split_by=args.by,
            reverses_merge=merge,
        ),
    )
    endpoints = bootstrap.configured_endpoints(settings)
    async with Publisher(
        endpoints.bootstrap_servers,
        topic=settings.topic_touchpoints,
        idempotence=endpoints.idempotence,
        client_id="touchlog-identity",
    ) as publisher:
        await publisher.publish(event)
    print(
        f"splitting {args.new} from {args.original} ({', '.join(keys)}): "
        f"published customer.split {event.message_id}"
    )
    return 0


def _payload_identifier(key: str) -> Identifier:
    """``email:ann@x.com`` / ``external_id:loyalty:L9`` as the split event carries it."""
    kind, colon, value = key.partition(":")
    if not colon or kind not in {t.value for t in IdentifierType}:
        raise ValueError(f"not an identifier key: {key!r} (e.g. email:ann@example.com)")
    if kind == IdentifierType.EXTERNAL_ID:
        namespace, colon, value = value.partition(":")
        if not colon:
            raise ValueError(f"an external id key is external_id:TYPE:ID, not {key!r}")
        return Identifier(type=IdentifierType(kind), value=value, namespace=namespace)
    return Identifier(type=IdentifierType(kind), value=value)
