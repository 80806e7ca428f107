"""``touchlog`` command line: each command lives in the module named for it; this one
assembles them."""

from __future__ import annotations

import argparse
import sys

from consumers.log_check import StoredOffsetsBeyondLog
from touchlog import (
    cli_analytics,
    cli_audiences,
    cli_audit,
    cli_deadletter,
    cli_gateway,
    cli_identity,
    cli_import,
    cli_privacy,
    cli_projections,
    cli_publish,
    cli_reset,
    cli_schemas,
    cli_services,
    cli_sources,
    cli_status,
    cli_triggers,
    cli_up,
)

COMMANDS = (
    cli_up,
    cli_publish,
    cli_services,
    cli_schemas,
    cli_import,
    cli_identity,
    cli_sources,
    cli_gateway,
    cli_triggers,
    cli_audiences,
    cli_reset,
    cli_deadletter,
    cli_status,
    cli_projections,
    cli_analytics,
    cli_audit,
    cli_privacy,
)
"""Every command module, in the order ``touchlog --help`` lists them."""


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="touchlog", description="Event-sourced customer interaction log."
    )
    sub = root.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        module.register(sub)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except BrokenPipeError:  # `touchlog schemas list | head`: the reader had enough
        sys.stderr.close()
        return 0
    except StoredOffsetsBeyondLog as exc:  # says what happened and the command that fixes it
        print(f"touchlog: {exc}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
