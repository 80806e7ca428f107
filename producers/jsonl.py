"""``touchlog publish FILE.jsonl``: one event per line, invalid lines reported by number."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from events import FieldError, InvalidEvent, Touchpoint, from_mapping
from producers.publisher import Publisher


@dataclass(frozen=True, slots=True)
class RejectedLine:
    line: int
    errors: list[FieldError]

    def __str__(self) -> str:
        return f"line {self.line}: " + "; ".join(str(e) for e in self.errors)


@dataclass
class PublishReport:
    accepted: int = 0
    rejected: list[RejectedLine] = field(default_factory=list)


def read_events(path: Path) -> Iterator[tuple[int, Touchpoint | RejectedLine]]:
    """Yield (line number, event or rejection) for every non-blank line."""
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                data: Any = json.loads(line)
            except json.JSONDecodeError as exc:
                yield (
                    number,
                    RejectedLine(number, [FieldError("(line)", f"not valid JSON: {exc.msg}")]),
                )
                continue
            if not isinstance(data, dict):
                yield number, RejectedLine(number, [FieldError("(line)", "expected a JSON object")])
                continue
            try:
                yield number, from_mapping(data)
            except InvalidEvent as exc:
                yield number, RejectedLine(number, exc.errors)


async def publish_file(path: Path, publisher: Publisher, chunk: int = 1000) -> PublishReport:
    """Publish every valid line of a JSONL file; invalid lines are reported, not sent."""
    report = PublishReport()
    pending: list[Touchpoint] = []
    for _, item in read_events(path):
        if isinstance(item, RejectedLine):
            report.rejected.append(item)
            continue
        pending.append(item)
        if len(pending) >= chunk:
            report.accepted += len(await publisher.publish_many(pending))
            pending.clear()
    if pending:
        report.accepted += len(await publisher.publish_many(pending))
    return report
