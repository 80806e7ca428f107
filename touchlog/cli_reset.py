"""``touchlog reset``: wipe the embedded data on purpose, after asking.

The embedded broker's log lives in its archive (``$TOUCHLOG_DATA_DIR/log``); the views
built from it live in PostgreSQL. Wiping one without the other leaves views of events
that no longer exist, or stored offsets beyond the end of an empty log (a stage then
stops and says so). So reset wipes the log archive, the triggers app's local state, the
embedded PostgreSQL — and, when ``DATABASE_URL`` is configured, touchlog's tables there.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from projections import db, versions
from touchlog import bootstrap, embedded
from touchlog.durable_broker import archive_dir, archive_lock
from touchlog.log_archive import ArchiveInUse, exclusive
from touchlog.logs import configure_logging
from touchlog.settings import Settings


@dataclass(frozen=True)
class _Step:
    what: str  # shown before asking
    run: Callable[[], None]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    reset = sub.add_parser(
        "reset",
        help="Wipe the embedded data (log archive, embedded PostgreSQL; touchlog's tables "
        "in DATABASE_URL if set), after asking. Refused while `touchlog up` runs.",
    )
    reset.add_argument("--yes", action="store_true", help="Wipe without asking.")
    reset.set_defaults(func=_reset)


def _reset(args: argparse.Namespace) -> int:
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    data_dir = settings.data_dir
    if (pid := _running_up(data_dir)) is not None:
        print(
            f"touchlog reset: `touchlog up` is running on {data_dir} (pid {pid}); stop it first.",
            file=sys.stderr,
        )
        return 1
    try:
        with exclusive(archive_lock(data_dir)):  # no `touchlog up` starts meanwhile
            try:
                steps = _steps(settings)
            except (OSError, asyncpg.PostgresError) as exc:
                print(
                    f"touchlog reset: cannot list touchlog's tables in DATABASE_URL ({exc}); "
                    "nothing wiped.",
                    file=sys.stderr,
                )
                return 1
            if not steps:
                print(f"touchlog reset: nothing to wipe in {data_dir}.")
                return 0
            return _wipe(settings, steps, ask=not args.yes)
    except ArchiveInUse as exc:
        print(f"touchlog reset: {exc}; stop it first.", file=sys.stderr)
        return 1


def _wipe(settings: Settings, steps: list[_Step], *, ask: bool) -> int:
    print(f"touchlog reset will wipe, in {settings.data_dir}:")
    for step in steps:
        print(f"  - {step.what}")
    print(
        f"The next `touchlog up` rebuilds every view from the log on "
        f"{settings.kafka_bootstrap_servers}, whose topics are not touched."
        if settings.kafka_bootstrap_servers
        else "The next `touchlog up` starts with an empty log and empty views."
    )
    if ask and not _confirmed():
        print("Nothing wiped.")
        return 1
    for step in steps:
        step.run()
    print("Wiped.")
    return 0


def _confirmed() -> bool:
    try:
        return input("Wipe all of this? [y/N] ").strip().lower() in ("y", "yes")
    except EOFError:  # no one to answer: no
        print()
        return False


def _running_up(data_dir: Path) -> int | None:
    """The pid of the ``touchlog up`` whose endpoints file is in ``data_dir``, if it runs."""
    try:
        pid = int(json.loads((data_dir / "endpoints.json").read_text())["pid"])
    except (FileNotFoundError, KeyError, ValueError):
        return None
    return pid if embedded.process_running(pid) else None


def _steps(settings: Settings) -> list[_Step]:
    data_dir = settings.data_dir
    steps = []
    previous = embedded.recorded_broker(data_dir)
    if previous is not None and previous.running():
        steps.append(
            _Step(
                f"the embedded broker a killed `touchlog up` left running (pid {previous.pid})",
                previous.stop,
            )
        )
    if (log := archive_dir(data_dir)).exists():
        size = sum(f.stat().st_size for f in log.rglob("*.records"))
        steps.append(
            _Step(f"the broker's log archive {log} ({size / 1e6:.1f} MB)", partial(_remove, log))
        )
    if (state := data_dir / "triggers").exists():
        steps.append(_Step(f"the triggers app's local state {state}", partial(_remove, state)))
    if (postgres := data_dir / "postgres").exists():
        steps.append(
            _Step(
                f"the embedded PostgreSQL and all its data {postgres}",
                partial(_remove_postgres, postgres),
            )
        )
    if settings.database_url:
        url = str(settings.database_url)
        if tables := asyncio.run(_touchlog_tables(url)):
            steps.append(
                _Step(
                    f"touchlog's {len(tables)} tables in {_without_password(url)}, write keys "
                    f"and trigger history included: {', '.join(name for _, name in tables)}",
                    partial(_drop_tables, url, tables),
                )
            )
    if embedded.recorded_broker(data_dir) or (data_dir / "endpoints.json").exists():
        steps.append(
            _Step("the address files a killed `touchlog up` left", partial(_forget, data_dir))
        )
    return steps


def _remove(path: Path) -> None:
    shutil.rmtree(path)


def _remove_postgres(path: Path) -> None:
    embedded.stop_postgres(path)  # still running if its `touchlog up` was killed
    shutil.rmtree(path)


def _forget(data_dir: Path) -> None:
    embedded.forget_broker(data_dir)
    (data_dir / "endpoints.json").unlink(missing_ok=True)


async def _touchlog_tables(url: str) -> list[tuple[str, str]]:
    """The tables of touchlog present in the database (schema-qualified)."""
    conn = await asyncpg.connect(url)
    try:
        shared = await db.tables_created_by(conn, *bootstrap.SCHEMAS, *_SHARED)
        return shared + await versions.versioned_tables(conn)
    finally:
        await conn.close()


def _drop_tables(url: str, tables: list[tuple[str, str]]) -> None:
    async def drop() -> None:
        conn = await asyncpg.connect(url)
        try:
            await db.drop_tables(conn, tables)
            await versions.drop_namespaces(conn)
        finally:
            await conn.close()

    asyncio.run(drop())


_SHARED = tuple(ddl for view in bootstrap.VERSIONED.values() for ddl in view.shared_schema)
"""Tables every version of a view shares, in the default schema (trigger actions…)."""


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")))
