"""Issue 20, data minimisation on the topic: a marketing trigger's record on
``touchlog.triggers`` carries the channel's consented contact — the name and the channel's
one detail, compared with the channel's allowed fields — sealed with the customer's own key,
through the real faust worker, broker and PostgreSQL; it reads ``[erased]`` once the
customer's keys are shredded. Without consent on the channel in the profile, ``contact``
is null; a service trigger carries none; an unreachable database holds no trigger up.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from structlog.testing import capture_logs

from consumers.triggers.contacts import ContactFeed
from events import Touchpoint
from privacy.customer_keys import CustomerSealer
from privacy.keys import KeyRing, MasterKey, PostgresKeyStore
from privacy.runtime import OwnPool
from privacy.sealing import ERASED, Opener, is_sealed
from privacy.subjects import refs_of
from projections.audiences.membership import CHANNEL_FIELDS, NAME_FIELDS
from projections.profile.postgres import ProfileView
from projections.triggers import Trigger
from tests.factories import BASE_TIME
from tests.integration.kafka_support import read_topic
from tests.integration.trigger_support import make_trigger
from tests.integration.trigger_worker_support import PARTITIONS, TriggerWorld
from tests.profile_support import touch
from tests.triggers_support import consent, purchase, survey, touchpoint
from tests.waiting import eventually
from touchlog.bootstrap import create_tables
from touchlog.embedded import free_port

pytestmark = pytest.mark.integration

RULES = """
rules:
  - {name: jumper-to-jacket, type: cross_sell, bought: jumpers, offer: jackets, within_days: 7}
  - {name: unhappy-call-back, type: survey_follow_up}
"""

NAME = {"title": "Dr", "given_name": "Adaeze", "family_name": "Okonkwo-Brandt"}
EMAIL = "adaeze.private@example.org"
ELSEWHERE = ("+33612345678", "1961-07-14", "Rue Secrète", "leave with no. 12")
"""Held in the profile, needed by no email: never on the topic, sealed or not."""


def _profile(customer: str, email_consent: str) -> list[Touchpoint]:
    profile = {
        "name": NAME | {"pronunciation": "a-DA-ze"},
        "emails": [{"use": "personal", "address": EMAIL, "primary": True}],
        "phones": [{"use": "mobile", "number": "+33612345678"}],
        "addresses": [
            {
                "lines": ["1 Rue Secrète"],
                "locality": "Paris",
                "postal_code": "75011",
                "country": "FR",
            }
        ],
        "date_of_birth": "1961-07-14",
        "dispatch_instructions": "leave with no. 12",
    }
    granted = {
        "purpose": "marketing",
        "channel": "email",
        "status": email_consent,
        "legal_basis": "consent",
        "captured_via": "call",
    }
    return [
        touch(
            "profile.updated", profile, at=BASE_TIME, message_id=f"{customer}-p", customer=customer
        ),
        touch(
            "consent.changed",
            granted,
            at=BASE_TIME + timedelta(hours=1),
            message_id=f"{customer}-c",
            customer=customer,
        ),
    ]


def _opener(pool: asyncpg.Pool, master: str) -> Opener:
    """A reader's opener with a cold cache (sees a shredding at once)."""
    return Opener(KeyRing(PostgresKeyStore(pool, MasterKey.from_text(master)), cache_seconds=0))


async def _opened(opener: Opener, values: list[bytes]) -> list[dict[str, Any]]:
    opened = await opener.open_many(values)
    docs = []
    for result in opened:
        assert result is not None
        assert not isinstance(result, Exception), result
        docs.append(json.loads(result.value))
    return docs


def _ticking(world: TriggerWorld, now: datetime) -> Callable[[], Awaitable[list[bytes]]]:
    async def probe() -> list[bytes]:
        await world.tick(now)
        records = await read_topic(world.bootstrap, world.names["triggers"], PARTITIONS)
        return [r.value for r in records if r.value is not None]

    return probe


async def test_a_marketing_trigger_record_carries_its_channels_contact_sealed(
    world: TriggerWorld,
    new_database: Callable[[], Awaitable[str]],
    master_key: str,
) -> None:
    database = await new_database()
    pool = await asyncpg.create_pool(database, min_size=1, max_size=2)
    try:
        await create_tables(pool)
        async with pool.acquire() as conn, conn.transaction():
            # The profile: ann granted email; bob revoked it (the worker saw only the grant).
            await ProfileView().apply(conn, _profile("ann", "granted") + _profile("bob", "revoked"))
        await world.create_topics()
        t0 = BASE_TIME
        day = timedelta(days=1)

        def granted(who: str) -> tuple[str, Touchpoint]:
            event = touchpoint("consent.changed", who, t0, consent("granted"), email=EMAIL)
            return who, event

        def bought(who: str) -> tuple[str, Touchpoint]:
            return who, touchpoint("purchase.completed", who, t0 + day, purchase("jumpers"))

        unhappy = touchpoint("survey.responded", "cid", t0 + day, survey(1, 3))
        await world.publish(
            [granted("ann"), granted("bob"), bought("ann"), bought("bob"), ("cid", unhappy)]
        )
        world.start(RULES, {"DATABASE_URL": database, "TOUCHLOG_MASTER_KEY": master_key})
        values = await eventually(
            _ticking(world, t0 + 10 * day), lambda vs: len(vs) >= 3, timeout=120, what="3 triggers"
        )
        assert world.stop() == 0, world.log_text()
        assert len(values) == 3  # nothing twice
        raw = b"\n".join(values)
        for clear in (EMAIL, *NAME.values(), *ELSEWHERE):
            assert clear.encode() not in raw, clear  # not in clear anywhere on the topic
        records = {(t.customer_id, t.rule): (t, v) for v in values for t in [Trigger.decode(v)]}
        ann, ann_value = records[("ann", "jumper-to-jacket")]
        bob, _ = records[("bob", "jumper-to-jacket")]
        _, call_back_value = records[("cid", "unhappy-call-back")]
        assert is_sealed(ann.contact)
        assert (ann.channel, ann.offer) == ("email", "jackets")
        assert bob.contact is None
        assert "contact" in bob.model_fields_set
        assert "contact" not in json.loads(call_back_value)  # a service trigger: none

        [opened] = await _opened(_opener(pool, master_key), [ann_value])
        contact = opened["contact"]
        assert set(contact) | {"customer_id"} == set(CHANNEL_FIELDS["email"])
        assert set(contact["name"]) == set(NAME_FIELDS)
        assert contact == {"name": NAME, "email": EMAIL}
        assert Trigger.decode(json.dumps(opened)).reason == ann.reason  # evidence in words

        # Erasure shreds every ref of the customer: the customer key's among them.
        refs = await refs_of(pool, ["ann"])
        store = PostgresKeyStore(pool, MasterKey.from_text(master_key))
        assert await store.shred_subjects(refs, "test erasure") >= 1
        [erased] = await _opened(_opener(pool, master_key), [ann_value])
        assert erased["contact"] == ERASED
        assert Trigger.decode(json.dumps(erased)).contact == ERASED
    finally:
        await pool.close()


async def test_a_customer_key_is_recorded_as_the_customers_before_it_seals(
    pool: asyncpg.Pool, master_key: str
) -> None:
    await create_tables(pool)
    ring = KeyRing(PostgresKeyStore(pool, MasterKey.from_text(master_key)))
    sealer = CustomerSealer(ring, pool)
    sealed = await sealer.seal("dee", "contact", {"name": {"given_name": "Dee"}})
    ref = await sealer.ref("dee")
    assert await refs_of(pool, ["dee"]) == [ref]
    assert sealed.split(".")[1].startswith(ref + "_k_")  # kept until erasure
    # the field's name is the associated data: moved to another field, it does not open
    [moved] = await Opener(ring).open_many([json.dumps({"offer": sealed}).encode()])
    assert isinstance(moved, Exception)
    assert "offer" in str(moved)


async def test_an_unreachable_database_holds_no_trigger_up(master_key: str) -> None:
    own = OwnPool(f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere")
    ring = KeyRing(PostgresKeyStore(own, MasterKey.from_text(master_key)))  # type: ignore[arg-type]
    feed = ContactFeed(own, CustomerSealer(ring, own), timeout=5.0, pause=60.0)
    offer = make_trigger("cross-sell-tv", "ann", channel="email", created_at=datetime.now(UTC))
    try:
        with capture_logs() as logs:
            sent = await feed.attach(offer)
            again = await feed.attach(offer)  # paused: not asked again
    finally:
        await own.close()
    assert sent is offer
    assert "contact" not in json.loads(sent.encode())
    assert again is offer
    warnings = [e for e in logs if e["event"] == "trigger_contact_unavailable"]
    assert [e["trigger_id"] for e in warnings] == [offer.trigger_id] * 2
    assert "not asked again" in warnings[1]["error"]
