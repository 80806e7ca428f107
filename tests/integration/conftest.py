"""Real infrastructure for integration tests, started once per session.

- the embedded Tansu broker on a free port;
- PostgreSQL: ``DATABASE_URL`` if set (CI sets it to the machine's server),
  else an embedded PostgreSQL. Each test that asks gets its own fresh database.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from tests.integration.trigger_worker_support import TriggerWorld
from touchlog import embedded
from touchlog.kafka_admin import ensure_topics

TEST_MASTER_KEY = "dG91Y2hsb2ctdGVzdHMtbWFzdGVyLWtleS0zMi1ieXQ="
"""One master key for every process of the session (in-process stages, CLI children): a
key wraps the data keys of whichever database a test uses, whatever its data_dir."""


@pytest.fixture(scope="session", autouse=True)
def master_key() -> Iterator[str]:
    before = os.environ.get("TOUCHLOG_MASTER_KEY")
    os.environ["TOUCHLOG_MASTER_KEY"] = TEST_MASTER_KEY
    yield TEST_MASTER_KEY
    if before is None:
        os.environ.pop("TOUCHLOG_MASTER_KEY", None)
    else:
        os.environ["TOUCHLOG_MASTER_KEY"] = before


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[embedded.EmbeddedBroker]:
    log_file = tmp_path_factory.mktemp("broker") / "broker.log"
    broker = embedded.start_broker(log_file=log_file)
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    configured = os.environ.get("DATABASE_URL")
    if configured:
        yield configured
        return
    # Not under pytest's tmp dir: that is private to root, and the embedded server
    # runs as an unprivileged user when started by root.
    data_dir = Path(tempfile.mkdtemp(prefix="touchlog-test-pg-"))
    try:
        with embedded.embedded_postgres(data_dir) as url:
            yield url
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


@pytest.fixture
async def new_database(server_url: str) -> AsyncIterator[Callable[[], Awaitable[str]]]:
    """Factory of fresh, empty databases, dropped after the test."""
    created: list[str] = []

    async def create() -> str:
        name = f"touchlog_test_{uuid.uuid4().hex[:12]}"
        admin = await asyncpg.connect(server_url)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        created.append(name)
        return _with_database(server_url, name)

    yield create
    admin = await asyncpg.connect(server_url)
    try:
        for name in created:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def database_url(new_database: Callable[[], Awaitable[str]]) -> str:
    """A fresh, empty database for one test."""
    return await new_database()


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    yield pool
    await pool.close()


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
async def topics(broker: embedded.EmbeddedBroker, unique: str) -> dict[str, str]:
    """Fresh touchpoints, resolved and dead-letter topics (6 partitions) for one test."""
    names = {
        "touchpoints": f"test.{unique}.touchpoints",
        "resolved": f"test.{unique}.resolved",
        "deadletter": f"test.{unique}.deadletter",
    }
    await ensure_topics(broker.bootstrap_servers, names.values(), partitions=6)
    return names


@pytest.fixture(scope="session")
def project_root() -> Path:
    return Path(__file__).resolve().parents[2]


@pytest.fixture
def world(broker: embedded.EmbeddedBroker, unique: str, tmp_path: Path) -> Iterator[TriggerWorld]:
    """Topics, an app id and a data dir for faust trigger workers; stopped after the test."""
    world = TriggerWorld(broker.bootstrap_servers, unique, tmp_path)
    yield world
    world.stop()
