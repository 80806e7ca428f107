"""``touchlog triggers``: the faust worker that evaluates trigger rules, and a rules check."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from consumers import metrics
from consumers.process import exit_with_parent
from events.documents import DocumentError
from projections.triggers.rule import NOTHING_KNOWN, Known
from touchlog import bootstrap, config_files
from touchlog.kafka_admin import ensure_topics
from touchlog.logs import configure_logging
from touchlog.settings import Settings

if TYPE_CHECKING:
    from consumers.triggers.app import TriggerAppConfig


def _worker(args: argparse.Namespace) -> int:
    import faust

    from consumers.triggers.app import build_app

    if args.exit_with_parent:
        exit_with_parent(os.getppid())
    settings = Settings()
    try:
        rules = bootstrap.trigger_rules(settings)
    except DocumentError as exc:  # before anything starts
        print(f"touchlog triggers: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_format, settings.log_level)
    endpoints = bootstrap.configured_endpoints(settings, database_needed=False)
    config = bootstrap.trigger_app_config(settings, endpoints, manual_clock=args.manual_clock)
    try:
        feed = config.co_purchase_feed(rules)
    except ValueError as exc:
        print(f"touchlog triggers: {exc}", file=sys.stderr)
        return 2
    published = asyncio.run(_prepare(settings, config))
    # The first co-purchase snapshot before any timer fires; a faust timer reloads it.
    known = Known(asyncio.run(feed.load())) if feed is not None else NOTHING_KNOWN
    config.data_dir.mkdir(parents=True, exist_ok=True)
    app, _ = build_app(config, rules, published, known)
    worker = faust.Worker(app, loglevel=_faust_log_level(settings.log_level), quiet=True)
    if not worker.stdout.isatty():
        worker.spinner = None  # it writes cursor escapes (ESC[?25l) into redirected output
    metrics.serve_on(settings.metrics_port)
    worker.execute_from_commandline()  # runs until SIGINT / SIGTERM
    return 0


def _faust_log_level(level: str) -> str:
    """faust's own logs (start-up banners, assignment tables, the producer buffer filling
    during a burst) only when debugging; touchlog's structlog events keep their level."""
    if level == "debug":
        return "INFO"
    logging.getLogger("faust.transport.producer").addFilter(
        lambda record: not record.getMessage().startswith("producer buffer full")
    )
    return "WARNING"


async def _prepare(settings: Settings, config: TriggerAppConfig) -> set[str]:
    """Topics exist; the trigger ids most recently published (a crash may have sent
    some that the state restored from the changelog does not remember)."""
    from consumers.triggers.tail import published_trigger_ids

    await ensure_topics(
        config.bootstrap_servers,
        settings.topics(),
        settings.partitions,
        settings.replication_factor,
        security=config.kafka_security,
    )
    return await published_trigger_ids(
        config.bootstrap_servers,
        (config.topics.triggers, config.topics.suppressed),
        range(config.partitions),
        config.published_tail,
        config.kafka_security,
    )


def _check(args: argparse.Namespace) -> int:
    from projections.triggers import parse_rules

    try:
        rules = config_files.load(args.file, parse_rules)
    except DocumentError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    for rule in rules.rules:
        print(f"{rule.name:<40} {rule.type:<22} {rule.kind}")
    print(f"{args.file}: {len(rules.rules)} rules, valid")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    triggers = sub.add_parser("triggers", help="Trigger rules: the faust worker, a rules check.")
    commands = triggers.add_subparsers(dest="triggers_command", required=True)
    worker = commands.add_parser(
        "worker",
        help="Run the faust app: touchlog.resolved → touchlog.triggers (rules from "
        "TOUCHLOG_TRIGGER_RULES, else the built-in ones).",
    )
    worker.add_argument(
        "--manual-clock",
        action="store_true",
        help="Time moves only with tick commands on the command topic (simulations, tests).",
    )
    worker.add_argument(
        "--exit-with-parent",
        action="store_true",
        help="Stop at once when the process that started this one dies (`touchlog up` "
        "starts its worker so: a SIGKILLed `up` leaves no worker behind).",
    )
    worker.set_defaults(func=_worker)
    check = commands.add_parser("check", help="Validate a trigger rules file and list its rules.")
    check.add_argument("file", type=Path)
    check.set_defaults(func=_check)
