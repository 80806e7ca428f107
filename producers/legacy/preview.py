"""``touchlog import --dry-run``: how the first rows of an export map, nothing sent."""

from __future__ import annotations

import json
from datetime import datetime
from itertools import islice
from pathlib import Path

from events.envelope import Source
from producers.legacy.mapping import ExportMapping
from producers.legacy.reading import read_rows
from producers.legacy.rows import RejectedRow, RowConverter


def preview(
    path: Path,
    mapping: ExportMapping,
    source: Source,
    region: str | None,
    occurred_at: datetime,
    rows: int,
) -> list[str]:
    """For each of the first ``rows`` rows: its subject and payload, or why it is rejected."""
    converter = RowConverter(mapping, source, occurred_at, region)
    shown: list[str] = []
    for line, cells in islice(read_rows(path, mapping), max(rows, 0)):
        outcome = cells if isinstance(cells, RejectedRow) else converter.convert(line, cells)
        if isinstance(outcome, RejectedRow):
            shown.append(f"{path}:{outcome}")
            continue
        event = outcome.event.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
        mapped = {"subject": event["subject"], "payload": event["payload"]}
        shown.append(f"{path}:line {line}: {json.dumps(mapped, ensure_ascii=False)}")
        shown += [f"{path}:line {line}:   left out: {problem}" for problem in outcome.left_out]
    return shown
