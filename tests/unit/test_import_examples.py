"""Acceptance (issue 16): every example mapping imports its sample CSV with no row rejected."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from events.envelope import Channel, Source
from producers.legacy import ImportedRow, RowConverter, parse_mapping
from producers.legacy.reading import read_rows

EXAMPLES = Path(__file__).parents[2] / "examples" / "mappings"
MAPPINGS = sorted(EXAMPLES.glob("*.yaml"))


def test_there_are_at_least_three_layouts() -> None:
    assert len(MAPPINGS) >= 3
    assert all(m.with_suffix(".csv").is_file() for m in MAPPINGS)


@pytest.mark.parametrize("path", MAPPINGS, ids=lambda p: p.stem)
def test_an_example_imports_its_sample_with_no_row_rejected(path: Path) -> None:
    mapping = parse_mapping(yaml.safe_load(path.read_text(encoding="utf-8")), str(path))
    source = Source(system="example", business_unit="demo", channel=Channel.STORE)
    converter = RowConverter(mapping, source, datetime(2024, 5, 1, tzinfo=UTC), mapping.region)
    outcomes = [
        cells if not isinstance(cells, dict) else converter.convert(line, cells)
        for line, cells in read_rows(path.with_suffix(".csv"), mapping)
    ]
    assert 10 <= len(outcomes) <= 30
    assert all(isinstance(o, ImportedRow) for o in outcomes), [str(o) for o in outcomes]
    imported = [o for o in outcomes if isinstance(o, ImportedRow)]
    assert [str(p) for o in imported for p in o.left_out] == []
    assert all(o.event.payload.name is not None for o in imported)
    assert all(o.event.subject.phone and o.event.subject.phone.startswith("+") for o in imported)
