"""Dead letters: the records a stage could not apply, listed, shown, and applied again
after a fix (through the same view the stage uses; see consumers/replay.py).

touchlog deadletter list [--stage NAME]
touchlog deadletter show ID
touchlog deadletter replay [--id ID | --all] [--stage NAME]
"""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import AsyncIterator, Sequence

import asyncpg

from consumers.checkpoints import list_dead_letters
from consumers.deadletter import DeadLetter
from consumers.replay import in_log_order, replay
from consumers.resolver import IdentityResolver
from consumers.versioned import VersionedCheckpoints
from projections import versions
from touchlog import bootstrap
from touchlog.cli_common import Subparsers, command, database, fail
from touchlog.cli_status import stages
from touchlog.settings import Settings


def register(sub: Subparsers) -> None:
    deadletter = sub.add_parser("deadletter", help="list, show and replay dead letters")
    commands = deadletter.add_subparsers(
        dest="deadletter_command", required=True, metavar="COMMAND"
    )
    listing = commands.add_parser("list", help="one line per dead letter, in log order")
    _stage_option(listing)
    listing.set_defaults(func=command(list_letters))
    show = commands.add_parser("show", help="one dead letter, with its record's value")
    show.add_argument("id", type=int, help="the letter's id, as `deadletter list` shows it")
    show.set_defaults(func=command(show_letter))
    again = commands.add_parser(
        "replay", help="apply dead letters again, in log order; those that apply leave the list"
    )
    which = again.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", type=int, action="append", help="a letter's id (repeatable)")
    which.add_argument("--all", action="store_true", help="every letter (of --stage, if given)")
    _stage_option(again)
    again.set_defaults(func=command(replay_letters))


def _stage_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--stage",
        help="only this stage's letters: identity, timeline, profile, triggers, "
        "triggers-suppressed (or a view's name, e.g. timeline_v1)",
    )


async def _letters(
    settings: Settings, pool: asyncpg.Pool, stage: str | None, ids: Sequence[int] | None = None
) -> list[DeadLetter]:
    letters = await list_dead_letters(pool, ids=ids)
    if stage is None:
        return letters
    wanted = {(s.consumer, s.topic) for s in stages(settings) if stage in (s.name, s.consumer)}
    return [d for d in letters if (d.consumer, d.topic) in wanted or d.consumer == stage]


async def list_letters(settings: Settings, args: argparse.Namespace) -> int:
    async with database(settings) as pool:
        letters = await _letters(settings, pool, args.stage)
    for d in letters:
        print(
            f"{d.id}  {d.consumer}  {d.topic}  p{d.partition}  @{d.offset}  "
            f"{d.failed_at.isoformat(timespec='seconds')}  {d.reason}"
        )
    if not letters:
        print("no dead letters")
    return 0


async def show_letter(settings: Settings, args: argparse.Namespace) -> int:
    async with database(settings) as pool:
        found = await list_dead_letters(pool, ids=[args.id])
    if not found:
        return fail(f"no dead letter {args.id}", 1)
    [d] = found
    print(f"id:        {d.id}\nview:      {d.consumer}\ntopic:     {d.topic}")
    print(f"partition: {d.partition}\noffset:    {d.offset}\nfailed at: {d.failed_at}")
    print(f"reason:    {d.reason}\nkey:       {_readable(d.key)}\nvalue:")
    print(_readable(d.value, indent=True))
    return 0


def _readable(data: bytes | None, *, indent: bool = False) -> str:
    """JSON pretty-printed, text as text, other bytes as Python shows them."""
    if data is None:
        return "(none)"
    try:
        return json.dumps(json.loads(data), indent=2 if indent else None, ensure_ascii=False)
    except ValueError:
        pass
    try:
        return data.decode()
    except UnicodeDecodeError:
        return repr(data)


async def replay_letters(settings: Settings, args: argparse.Namespace) -> int:
    endpoints = bootstrap.configured_endpoints(settings)
    async with database(settings) as pool:
        letters = await _letters(settings, pool, args.stage, None if args.all else args.id)
        identity = any(d.consumer == IdentityResolver.name for d in letters)
        applied = failing = 0
        async with _runners(settings, endpoints, pool, identity=identity) as runners:
            for (consumer, topic), runner in runners.items():
                mine = [d for d in letters if (d.consumer, d.topic) == (consumer, topic)]
                if mine:
                    store = runner.store
                    versioned = store.view if isinstance(store, VersionedCheckpoints) else None
                    outcome = await replay(
                        pool, runner.view, runner.codec, mine, versioned=versioned
                    )
                    applied += len(outcome.applied)
                    failing += len(outcome.still_failing)
                    for d in outcome.still_failing:
                        print(f"{d.id}  still fails: {d.reason}")
        unknown = [d for d in in_log_order(letters) if (d.consumer, d.topic) not in runners]
    for d in unknown:
        print(f"{d.id}  left as it is: no stage applies {d.topic} as {d.consumer}")
    print(f"replayed {applied + failing}: {applied} applied, {failing} still failing")
    return 0 if failing == 0 and not unknown else 1


@contextlib.asynccontextmanager
async def _runners(
    settings: Settings, endpoints: bootstrap.Endpoints, pool: asyncpg.Pool, *, identity: bool
) -> AsyncIterator[dict[tuple[str, str], bootstrap.Runner]]:
    """Each stage's runner as ``touchlog runner`` builds it (never started: its view and
    codec are what a replay uses), by (view name, topic)."""
    live = await versions.live_version(pool, "identity") or 1  # the topics read now
    runners = [
        bootstrap.resolved_view_runner(settings, endpoints, pool, s, identity_version=live)
        for s in ("timeline", "profile", "metrics")
    ]
    subscribers = bootstrap.webhook_subscribers(settings)
    runners += bootstrap.trigger_store_runners(settings, endpoints, pool, subscribers)
    async with contextlib.AsyncExitStack() as stack:
        if identity:  # the resolver publishes what it resolves: it needs a producer
            kafka = await stack.enter_async_context(
                bootstrap.producer(endpoints, "touchlog-replay")
            )
            runners.append(
                bootstrap.resolver_runner(settings, endpoints, pool, kafka, version=live)
            )
        yield {(r.name, r.config.topic): r for r in runners}
