"""Blue/green versions of the identity graph, as users run them: the stages in consumer
groups, events and people's decisions in the log.

- ``rebuild identity`` builds version 2 beside the live resolver: its graph (customers,
  links, merges, the split, the rejected merge) equals the live one, and its output goes
  to ``<resolved>.v2``. A timeline rebuilt from that topic equals the live timeline.
  Identity goes live only with every view below it rebuilt from its topic, in one switch;
  the live stages then follow: new events reach the views through the new topic.
- A rebuild of identity killed (SIGKILL) halfway resumes from its offsets and ends equal
  to the live graph; meanwhile no second runner may write its version.
- ``touchlog up`` starts the faust trigger worker again on the new topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from consumers.versioned import VersionBusy, VersionedCheckpoints
from events.resolved import encode_resolved
from producers import Publisher
from projections import versions
from projections.identity import postgres as identity
from tests.factories import identity_events
from tests.integration.kafka_support import publish_in_order, read_topic
from tests.integration.pipeline_support import endpoints, pipeline, resolver_position
from tests.integration.test_identity_rebuild import EVENTS, REPUBLISHED, _event, _people_decide
from tests.integration.test_identity_rebuild import _settings as identity_settings
from tests.integration.test_rebuilds import applied, at_least, contents, operator_pool
from tests.integration.trigger_worker_support import PARTITIONS, TriggerWorld
from tests.triggers_support import survey, touchpoint
from tests.waiting import eventually
from touchlog import bootstrap, cli, cli_projections, cli_up, rebuilds
from touchlog.embedded import EmbeddedBroker
from touchlog.kafka_admin import ensure_topics
from touchlog.settings import Settings

pytestmark = pytest.mark.integration


async def _records(bootstrap_servers: str, topic: str) -> set[tuple[bytes, bytes]]:
    """(key, value) of every record: what downstream views are built from."""
    return {(r.key or b"", r.value or b"") for r in await read_topic(bootstrap_servers, topic)}


async def test_an_identity_rebuild_equals_the_live_graph_and_goes_live_with_its_views(
    broker: EmbeddedBroker,
    topics: dict[str, str],
    database_url: str,
    pool: asyncpg.Pool,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = identity_settings(topics, broker, database_url)
    ends = endpoints(broker.bootstrap_servers, database_url)
    await publish_in_order(broker.bootstrap_servers, topics["touchpoints"], EVENTS)
    await publish_in_order(broker.bootstrap_servers, topics["touchpoints"], [REPUBLISHED])
    parse = cli.parser().parse_args
    async with pipeline(settings, ends, pool, group=True):
        await eventually(
            lambda: resolver_position(pool, topics["touchpoints"]),
            at_least(len(EVENTS) + 1),
            what="the resolver through the events",
        )
        who = await _people_decide(settings, pool)
        in_log = len(await read_topic(broker.bootstrap_servers, topics["touchpoints"]))
        await eventually(
            lambda: resolver_position(pool, topics["touchpoints"]),
            at_least(in_log),
            what="the resolver through the decisions",
        )
        resolved = len(await read_topic(broker.bootstrap_servers, topics["resolved"]))
        await eventually(
            lambda: applied(pool, "timeline_v1", topics["resolved"]), at_least(resolved)
        )

        # Rebuilt beside the live resolver, by an operator's process of its own.
        async with operator_pool(database_url) as own:
            rebuilt = await rebuilds.rebuild(settings, ends, own, "identity")
        assert (rebuilt.version, rebuilt.resumed) == (2, False)
        assert rebuilt.events == in_log
        found = await rebuilds.compare_identity(settings, pool)
        assert found.equal, found
        held = {"customers", "links", "merges", "kept apart", "rejected", "not matched"}
        assert {t.what for t in found.tables if t.rows[0] > 0} >= held
        assert (
            await cli_projections.compare_view(
                settings, parse(["projections", "compare", "identity"])
            )
            == 0
        )
        assert capsys.readouterr().out.strip().endswith("equal")
        # Its output: a topic of its own, as many partitions, the same records.
        v2 = topics["resolved"] + ".v2"
        assert await _records(broker.bootstrap_servers, v2) == await _records(
            broker.bootstrap_servers, topics["resolved"]
        )

        # Identity goes live only with the views below it, rebuilt from its topic.
        with pytest.raises(versions.VersionError, match=r"--identity 7: .*\(usable: v1, v2\)"):
            await rebuilds.rebuild(settings, ends, pool, "timeline", identity=7)
        with pytest.raises(versions.VersionError, match="triggers does not read it"):
            await rebuilds.rebuild(settings, ends, pool, "triggers", identity=2)
        with pytest.raises(versions.VersionError, match="together with the views below it"):
            await rebuilds.rebuild(settings, ends, pool, "identity", switch=True)
        with pytest.raises(versions.VersionError, match="timeline, profile, metrics"):
            await rebuilds.switch(settings, ends, pool, "identity")
        async with operator_pool(database_url) as own:
            timeline = await rebuilds.rebuild(settings, ends, own, "timeline")
        assert timeline.version == 2
        [v2_timeline] = [v for v in await versions.versions(pool, "timeline") if v.version == 2]
        assert v2_timeline.identity_version == 2
        assert await contents(pool, "timeline", 2) == await contents(pool, "timeline", 1)
        with pytest.raises(versions.VersionError, match="goes live with identity"):
            await rebuilds.switch(settings, ends, pool, "timeline")
        with pytest.raises(versions.VersionError, match="profile, metrics, audiences"):
            await rebuilds.switch(settings, ends, pool, "identity")
        async with operator_pool(database_url) as own:
            for view in ("profile", "metrics", "audiences", "recommendations"):
                await rebuilds.rebuild(settings, ends, own, view, identity=2)
            switched = await rebuilds.switch(settings, ends, own, "identity")
        assert (switched.version, switched.switched_from) == (2, 1)
        assert dict(switched.together) == {
            "timeline": 2,
            "profile": 2,
            "metrics": 2,
            "audiences": 2,
            "recommendations": 2,
        }
        assert await versions.live_version(pool, "identity") == 2
        assert await versions.live_version(pool, "timeline") == 2
        capsys.readouterr()
        assert await cli_projections.list_views(settings, parse(["projections", "list"])) == 0
        listing = capsys.readouterr().out.splitlines()
        [identity_line] = [
            line for line in listing if line.split()[:3] == ["identity", "2", "live"]
        ]
        assert identity_line.endswith(v2)
        [timeline_line] = [
            line for line in listing if line.split()[:3] == ["timeline", "2", "live"]
        ]
        assert timeline_line.endswith(v2)

        # The live stages follow: a new customer, merged by a new event, reaches the
        # timeline through the new topic, and the old topic gets nothing more.
        old_topic = len(await read_topic(broker.bootstrap_servers, topics["resolved"]))
        new_events = [
            _event({"email": "nina@example.com"}, "n1", 20),
            _event({"email": "ann@example.com", "phone": "+33699887766"}, "n2", 21),
        ]
        await publish_in_order(broker.bootstrap_servers, topics["touchpoints"], new_events)
        ann = (await identity.customers_for(pool, "email:ann@example.com"))[0]
        await eventually(
            lambda: pool.fetch(
                "SELECT subject_key, message_id FROM timeline_v1 WHERE message_id IN ('n1', 'n2')"
            ),
            lambda rows: {r["message_id"] for r in rows} == {"n1", "n2"},
            what="the new events in the live timeline",
        )
        assert (
            await pool.fetchval("SELECT subject_key FROM timeline_v1 WHERE message_id = 'n2'")
            == ann
        )
        assert await identity.customers_for(pool, "phone:+33699887766") == [ann]
        assert (
            await pool.fetchval(
                "SELECT count(*) FROM touchlog_identity_v2.identity_links "
                "WHERE identifier = 'email:nina@example.com'"
            )
            == 1
        )
        assert len(await read_topic(broker.bootstrap_servers, topics["resolved"])) == old_topic
        assert who["bob"] == await identity.survivor_of(pool, who["bobby"])


async def test_an_identity_rebuild_killed_halfway_resumes_to_the_same_graph(
    broker: EmbeddedBroker,
    topics: dict[str, str],
    database_url: str,
    pool: asyncpg.Pool,
    tmp_path: Path,
) -> None:
    settings = identity_settings(topics, broker, database_url).model_copy(
        update={"identity_batch_max_records": 300}
    )
    ends = endpoints(broker.bootstrap_servers, database_url)
    events = identity_events(12_000, 900, seed=11, per_unit_style=True)
    async with Publisher(
        broker.bootstrap_servers, topic=topics["touchpoints"], idempotence=False
    ) as publisher:
        await publisher.publish_many(events)
    async with pipeline(settings, ends, pool, group=True):
        await eventually(
            lambda: resolver_position(pool, topics["touchpoints"]), at_least(len(events))
        )
    merges = await pool.fetchval("SELECT count(*) FROM identity_merges")
    assert merges > 0, "the events merge customers"
    env = os.environ | {
        "DATABASE_URL": database_url,
        "TOUCHLOG_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "TOUCHLOG_KAFKA_IDEMPOTENCE": "false",
        "TOUCHLOG_TOPIC_TOUCHPOINTS": topics["touchpoints"],
        "TOUCHLOG_TOPIC_RESOLVED": topics["resolved"],
        "TOUCHLOG_TOPIC_DEADLETTER": topics["deadletter"],
        "TOUCHLOG_IDENTITY_BATCH_MAX_RECORDS": "300",
        "TOUCHLOG_DATA_DIR": str(tmp_path),
    }
    command = [sys.executable, "-m", "touchlog.cli", "projections", "rebuild", "identity"]
    log = tmp_path / "rebuild.log"
    with log.open("wb") as out:
        child = await asyncio.create_subprocess_exec(*command, env=env, stdout=out, stderr=out)
    try:
        halfway = await eventually(
            lambda: applied(pool, "identity_v1@v2", topics["touchpoints"]),
            at_least(len(events) // 4),
            what="the rebuild a quarter through",
        )
        # Meanwhile no second runner may write version 2.
        busy = VersionedCheckpoints(pool, "identity", database_url, version=2)
        with pytest.raises(VersionBusy):
            await busy.prepare(bootstrap.VERSIONED["identity"].schema)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{log.read_text(errors='replace')[-3000:]}") from None
    finally:
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signal.SIGKILL)
        await child.wait()
    assert halfway < len(events), "killed halfway, not at the end"
    resumed = await rebuilds.rebuild(settings, ends, pool, "identity")
    assert (resumed.version, resumed.resumed) == (2, True)
    assert resumed.events < len(events), "resumed from its offsets, not from offset 0"
    found = await rebuilds.compare_identity(settings, pool, 2)
    assert found.applied == (len(events), len(events))
    assert found.equal, [t for t in found.tables if not t.equal]
    [merged] = [t for t in found.tables if t.what == "merges"]
    assert merged.rows == (merges, merges)


RULES = "rules:\n  - {name: unhappy-call-back, type: survey_follow_up}\n"


async def test_touchlog_up_restarts_the_trigger_worker_on_the_live_identity_topic(
    world: TriggerWorld,
    database_url: str,
    pool: asyncpg.Pool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """faust cannot resubscribe: ``touchlog up`` starts its worker again on the topic of
    the identity version that went live (here recorded as `switch identity` does)."""
    await world.create_topics()
    new_topic = world.names["resolved"] + ".v2"
    await ensure_topics(world.bootstrap, [new_topic], partitions=PARTITIONS)
    rules = world.data_dir / "rules.yaml"
    rules.write_text(RULES)
    for name, value in world.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TOUCHLOG_TRIGGER_RULES", str(rules))
    monkeypatch.setenv("DATABASE_URL", database_url)
    await bootstrap.create_tables(pool)
    settings = Settings(topic_resolved=world.names["resolved"], data_dir=world.data_dir)
    stop = asyncio.Event()
    worker = asyncio.create_task(
        cli_up._trigger_worker(settings, endpoints(world.bootstrap, database_url), pool, stop)
    )
    try:
        unhappy, now = survey(1, 3), datetime.now(UTC)  # a call-back expires: a recent survey
        await world.publish([("bob", touchpoint("survey.responded", "bob", now, unhappy))])
        await eventually(world.triggers, bool, timeout=90, what="bob's call-back")
        await pool.execute("UPDATE live_views SET version = 2 WHERE view = 'identity'")
        carl = touchpoint("survey.responded", "carl", now, unhappy)
        producer = AIOKafkaProducer(bootstrap_servers=world.bootstrap, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(new_topic, encode_resolved("carl", carl), key=b"carl")
        finally:
            await producer.stop()
        found = await eventually(
            world.triggers,
            lambda ts: {t.customer_id for t in ts} == {"bob", "carl"},
            timeout=90,
            what="carl's call-back, from the new topic",
        )
        assert sorted(t.customer_id for t in found) == ["bob", "carl"]
        assert not worker.done()
    finally:
        stop.set()
        await worker
