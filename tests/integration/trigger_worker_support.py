"""The faust triggers worker as a separate process, fed and read through a real broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from aiokafka import AIOKafkaProducer

from consumers.triggers.app import tick_command
from events import Touchpoint
from events.resolved import encode_resolved
from projections.triggers import Trigger
from tests.integration.kafka_support import read_topic
from touchlog.kafka_admin import ensure_topics

PARTITIONS = 3


class TriggerWorld:
    """Topics, an app id and a data dir of its own; workers started and killed at will."""

    def __init__(self, bootstrap: str, unique: str, data_dir: Path) -> None:
        self.bootstrap = bootstrap
        self.names = {
            "resolved": f"test.{unique}.resolved",
            "commands": f"test.{unique}.trigger-commands",
            "triggers": f"test.{unique}.triggers",
            "suppressed": f"test.{unique}.triggers.suppressed",
            "deadletter": f"test.{unique}.deadletter",
        }
        self.app_id = f"test-triggers-{unique}"
        self.data_dir = data_dir
        self.process: subprocess.Popen[bytes] | None = None
        self.log = data_dir / "worker.log"

    async def create_topics(self) -> None:
        await ensure_topics(self.bootstrap, self.names.values(), partitions=PARTITIONS)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TOUCHLOG_")}
        return env | {
            "TOUCHLOG_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "TOUCHLOG_TOPIC_RESOLVED": self.names["resolved"],
            "TOUCHLOG_TOPIC_TRIGGER_COMMANDS": self.names["commands"],
            "TOUCHLOG_TOPIC_TRIGGERS": self.names["triggers"],
            "TOUCHLOG_TOPIC_TRIGGERS_SUPPRESSED": self.names["suppressed"],
            "TOUCHLOG_TOPIC_DEADLETTER": self.names["deadletter"],
            "TOUCHLOG_PARTITIONS": str(PARTITIONS),
            "TOUCHLOG_TRIGGERS_APP_ID": self.app_id,
            "TOUCHLOG_DATA_DIR": str(self.data_dir),
            "TOUCHLOG_LOG_LEVEL": "info",
        }

    def start(self, rules: str, settings: dict[str, str] | None = None) -> None:
        """A worker with these rules (YAML) and ``settings`` (more variables), as a
        separate process."""
        assert self.process is None or self.process.poll() is not None
        path = self.data_dir / "rules.yaml"
        path.write_text(rules)
        env = self.env() | (settings or {}) | {"TOUCHLOG_TRIGGER_RULES": str(path)}
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "touchlog.cli", "triggers", "worker", "--manual-clock"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self) -> int:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise

    async def publish(self, resolved: Iterable[tuple[str, Touchpoint]]) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all", linger_ms=5)
        await producer.start()
        try:
            for customer, event in resolved:
                await producer.send(
                    self.names["resolved"], encode_resolved(customer, event), key=customer.encode()
                )
            await producer.flush()
        finally:
            await producer.stop()

    async def tick(self, now: datetime) -> None:
        """Move the workers' manual clock to ``now`` on every partition."""
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all")
        await producer.start()
        try:
            for partition in range(PARTITIONS):
                await producer.send(self.names["commands"], tick_command(now), partition=partition)
            await producer.flush()
        finally:
            await producer.stop()

    async def triggers(self, topic: str = "triggers") -> list[Trigger]:
        records = await read_topic(self.bootstrap, self.names[topic], PARTITIONS)
        return [Trigger.decode(r.value) for r in records if r.value is not None]

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""
