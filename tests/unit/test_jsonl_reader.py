"""``touchlog publish FILE.jsonl`` reports invalid lines by number."""

from __future__ import annotations

import json
from pathlib import Path

from producers.jsonl import RejectedLine, read_events
from tests.factories import event_dict


def test_each_line_is_an_event_or_a_numbered_rejection(tmp_path: Path) -> None:
    bad = event_dict()
    bad["payload"]["duration_seconds"] = "long"
    lines = [
        json.dumps(event_dict()),
        "",
        "{not json",
        json.dumps(bad),
        "[1, 2]",
        json.dumps(event_dict("email.sent")),
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n")
    results = dict(read_events(path))
    rejected = {n: r for n, r in results.items() if isinstance(r, RejectedLine)}
    assert sorted(results) == [1, 3, 4, 5, 6]
    assert sorted(rejected) == [3, 4, 5]
    assert "not valid JSON" in str(rejected[3])
    assert "payload.duration_seconds" in str(rejected[4])
    assert "expected a JSON object" in str(rejected[5])
    assert str(rejected[4]).startswith("line 4: ")
