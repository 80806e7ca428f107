"""``touchlog publish FILE.jsonl`` against a real broker: counts, line numbers, exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.factories import event_dict
from tests.integration.kafka_support import read_topic
from touchlog.embedded import EmbeddedBroker

pytestmark = pytest.mark.integration


async def test_publish_reports_rejected_lines_and_sends_the_rest(
    broker: EmbeddedBroker, topics: dict[str, str], tmp_path: Path
) -> None:
    bad = event_dict()
    bad["occurred_at"] = "2026-03-01T10:00:00"  # naive: no timezone
    lines = [json.dumps(event_dict(message_id=f"m{i}")) for i in range(5)]
    lines.insert(2, json.dumps(bad))
    lines.insert(4, "{truncated")
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n")
    env = {
        **os.environ,
        "TOUCHLOG_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "TOUCHLOG_KAFKA_IDEMPOTENCE": "false",
        "DATABASE_URL": "postgresql://unused/",
        "TOUCHLOG_SEAL_PERSONAL_DATA": "false",  # no key store: publishes in clear
        "TOUCHLOG_TOPIC_TOUCHPOINTS": topics["touchpoints"],
        "TOUCHLOG_LOG_LEVEL": "warning",
        "TOUCHLOG_DATA_DIR": str(tmp_path),
    }
    result = subprocess.run(  # noqa: ASYNC221  # the CLI under test, run to completion
        [sys.executable, "-m", "touchlog.cli", "publish", str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert result.stdout.strip().endswith("accepted 5, rejected 2")
    assert f"{path}:line 3: occurred_at:" in result.stderr
    assert f"{path}:line 5: (line): not valid JSON" in result.stderr

    assert len(await read_topic(broker.bootstrap_servers, topics["touchpoints"])) == 5
