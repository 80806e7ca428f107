"""The SDK, the stage runners and the faust triggers worker, configured only through
settings (``TOUCHLOG_KAFKA_SECURITY_PROTOCOL=SSL`` and a CA file), on a broker that
speaks nothing but TLS: an event goes SDK → resolver → faust → trigger store and lands
in PostgreSQL; the admin client creates the topics and ``touchlog status`` reads the log."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError

from consumers.status import stage_status
from producers import Publisher
from projections.timeline.postgres import count_rows
from tests.factories import BASE_TIME
from tests.integration.tls_support import Certificates, TlsProxy, throwaway_ca
from tests.triggers_support import survey, touchpoint
from tests.waiting import eventually
from touchlog import bootstrap, cli_status, embedded
from touchlog.kafka_admin import ensure_topics
from touchlog.settings import Settings

pytestmark = pytest.mark.integration

PARTITIONS = 3


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[tuple[TlsProxy, Certificates]]:
    """An embedded broker reachable only through a TLS-terminating proxy."""
    certificates = throwaway_ca(tmp_path)
    proxy_port = embedded.free_port()
    broker = embedded.start_broker(log_file=tmp_path / "broker.log", advertised_port=proxy_port)
    proxy = TlsProxy(proxy_port, broker.port, certificates)
    proxy.start()
    yield proxy, certificates
    proxy.stop()
    broker.stop()


def _environment(
    proxy: TlsProxy, certificates: Certificates, database_url: str, unique: str, data: Path
) -> dict[str, str]:
    rules = data / "rules.yaml"
    rules.write_text("rules:\n  - {name: unhappy-call-back, type: survey_follow_up}\n")
    topic = f"tls.{unique}"
    return {
        "TOUCHLOG_KAFKA_BOOTSTRAP_SERVERS": proxy.bootstrap_servers,
        "TOUCHLOG_KAFKA_IDEMPOTENCE": "false",  # the embedded broker rejects it
        "TOUCHLOG_KAFKA_SECURITY_PROTOCOL": "SSL",
        "TOUCHLOG_KAFKA_SSL_CAFILE": str(certificates.ca),
        "DATABASE_URL": database_url,
        "TOUCHLOG_TOPIC_TOUCHPOINTS": f"{topic}.touchpoints",
        "TOUCHLOG_TOPIC_RESOLVED": f"{topic}.resolved",
        "TOUCHLOG_TOPIC_DEADLETTER": f"{topic}.deadletter",
        "TOUCHLOG_TOPIC_TRIGGERS": f"{topic}.triggers",
        "TOUCHLOG_TOPIC_TRIGGERS_SUPPRESSED": f"{topic}.triggers.suppressed",
        "TOUCHLOG_TOPIC_TRIGGER_COMMANDS": f"{topic}.trigger-commands",
        "TOUCHLOG_PARTITIONS": str(PARTITIONS),
        "TOUCHLOG_CONSUMER_GROUP": f"tls-{unique}",
        "TOUCHLOG_TRIGGERS_APP_ID": f"tls-triggers-{unique}",
        "TOUCHLOG_DATA_DIR": str(data),
        "TOUCHLOG_TRIGGER_RULES": str(rules),
        "TOUCHLOG_IDENTITY_HELPER_PROCESS": "false",
    }


def _start_worker(environment: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOUCHLOG_")} | environment
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "touchlog.cli", "triggers", "worker", "--manual-clock"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def _stored_triggers(pool: asyncpg.Pool) -> list[str]:
    return [r["rule"] for r in await pool.fetch("SELECT rule FROM triggers_v1")]


async def test_sdk_runner_and_faust_worker_work_over_tls(
    tls_broker: tuple[TlsProxy, Certificates],
    database_url: str,
    pool: asyncpg.Pool,
    unique: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxy, certificates = tls_broker
    data = tmp_path / "data"
    data.mkdir()
    environment = _environment(proxy, certificates, database_url, unique, data)
    for name in [n for n in os.environ if n.startswith("TOUCHLOG_")]:
        monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    ends = bootstrap.configured_endpoints(settings)
    assert ends.kafka_security["security_protocol"] == "SSL"

    await ensure_topics(  # the admin client
        ends.bootstrap_servers, settings.topics(), PARTITIONS, security=ends.kafka_security
    )
    worker_log = tmp_path / "worker.log"
    worker = _start_worker(environment, worker_log)  # the faust app, in its own process
    try:
        events = [
            touchpoint("survey.responded", f"c{i}-{unique}", BASE_TIME, survey(1, 2))
            for i in range(5)
        ]
        async with Publisher(  # the SDK
            ends.bootstrap_servers,
            topic=settings.topic_touchpoints,
            idempotence=False,
            security=ends.kafka_security,
        ) as publisher:
            await publisher.publish_many(events)

        await bootstrap.create_tables(pool)
        async with _stages(settings, ends, pool):  # resolver, timeline, trigger store
            await eventually(
                lambda: count_rows(pool), lambda n: n == len(events), timeout=45, what="timeline"
            )
            rules = await eventually(
                lambda: _stored_triggers(pool),
                lambda found: len(found) == len(events),
                timeout=45,
                what="a call-back per unhappy customer, through the faust worker",
            )
            assert set(rules) == {"unhappy-call-back"}
            status = await stage_status(
                pool,
                ends.bootstrap_servers,
                cli_status.stages(settings)[:1],
                security=ends.kafka_security,
            )
            assert [s.lag_events for s in status] == [0] * PARTITIONS
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    assert worker.returncode == 0, worker_log.read_text(errors="replace")
    assert proxy.sessions, "no client came through the TLS listener"
    assert all(version.startswith("TLSv1.") for version in proxy.sessions)
    # And the listener speaks nothing else: a client without the settings cannot connect.
    plain = AIOKafkaProducer(bootstrap_servers=ends.bootstrap_servers, request_timeout_ms=3000)
    with pytest.raises(KafkaConnectionError):
        await plain.start()
    await plain.stop()


@contextlib.asynccontextmanager
async def _stages(
    settings: Settings, ends: bootstrap.Endpoints, pool: asyncpg.Pool
) -> AsyncIterator[None]:
    """The identity, timeline and triggers stages, reading every partition directly."""
    stop = asyncio.Event()
    stages = ("identity", "timeline", "triggers")
    task = asyncio.create_task(
        bootstrap.run_stages(settings, ends, pool, stop, stages, list(range(PARTITIONS)))
    )
    try:
        yield
    finally:
        stop.set()
        await task
