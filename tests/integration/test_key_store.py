"""The PostgreSQL key store: data keys derived from a subject's key and a period's key,
each stored once and shredded on its own (privacy/keys.py)."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, date, datetime, timedelta

import asyncpg

from privacy import runtime
from privacy.keys import KEY_BYTES, MasterKey, Period, PostgresKeyStore, Slot

MASTER = MasterKey(os.urandom(KEY_BYTES))
A, B = "a" * 32, "b" * 32
DAY1, DAY2 = date(2026, 3, 1), date(2026, 3, 2)


async def _store(pool: asyncpg.Pool) -> PostgresKeyStore:
    async with pool.acquire() as conn:
        await runtime.create_tables(conn)
    return PostgresKeyStore(pool, MASTER)


def _slot(ref: str, day: date | None, days: int | None = 30) -> Slot:
    return ref, Period(days if day else None, day)


async def test_one_row_per_subject_and_per_period_and_a_key_per_pair(pool: asyncpg.Pool) -> None:
    store = await _store(pool)
    slots = [_slot(A, DAY1), _slot(A, DAY2), _slot(B, DAY1), _slot(B, None)]
    made = await store.sealing_keys(slots)

    assert set(made) == set(slots)
    assert len({key_id for key_id, _ in made.values()}) == 4
    assert len({key for _, key in made.values()}) == 4
    # Subjects plus periods, not their product: A, B; day 1, day 2 and "until erasure".
    assert await pool.fetchval("SELECT count(*) FROM privacy_keys") == 5
    # Another process (a store of its own) finds the same keys, and opens them by id.
    again = await PostgresKeyStore(pool, MASTER).sealing_keys(slots)
    assert again == made
    opened = await PostgresKeyStore(pool, MASTER).open_keys([k for k, _ in made.values()])
    assert opened == dict(made.values())


async def test_shredding_a_subject_or_a_period_ends_exactly_its_keys(pool: asyncpg.Pool) -> None:
    store = await _store(pool)
    made = await store.sealing_keys([_slot(A, DAY1), _slot(A, DAY2), _slot(B, DAY1)])
    ids = {slot: key_id for slot, (key_id, _) in made.items()}

    assert await store.shred_subjects([A], "erasure") == 1
    opened = await store.open_keys(list(ids.values()))
    assert opened[ids[_slot(A, DAY1)]] is None
    assert opened[ids[_slot(A, DAY2)]] is None
    assert opened[ids[_slot(B, DAY1)]] == made[_slot(B, DAY1)][1]

    # Day 1's period ends (30 days' retention): B's key of day 1 goes, for every subject.
    after_day1 = datetime(2026, 4, 1, 1, tzinfo=UTC)  # day 2 ends an hour later
    assert await store.shred_expired(after_day1) == 1
    assert (await store.open_keys([ids[_slot(B, DAY1)]]))[ids[_slot(B, DAY1)]] is None
    # A new event of B on day 2 still gets a key; A, erased, gets a new key of its own.
    later = await store.sealing_keys([_slot(B, DAY2), _slot(A, DAY2)])
    assert later[_slot(A, DAY2)][0] != ids[_slot(A, DAY2)]
    reopened = await store.open_keys([later[_slot(B, DAY2)][0], later[_slot(A, DAY2)][0]])
    assert reopened == dict(later.values())


async def test_ids_that_are_not_data_keys_open_nothing(pool: asyncpg.Pool) -> None:
    store = await _store(pool)
    [(key_id, _)] = (await store.sealing_keys([_slot(A, DAY1)])).values()
    rows = [r["key_id"] for r in await pool.fetch("SELECT key_id FROM privacy_keys")]
    tail = key_id.rsplit("_", 1)[1]
    forged = [
        *rows,  # a subject's or a period's own key is never handed out as a data key
        f"{A}_{Period(30, DAY2).code}_{tail}",  # the right halves, another period's id
        f"{B}_{Period(30, DAY1).code}_{tail}",  # another subject
        f"{A}_{Period(30, DAY1).code}_{'0' * 16}",
        "not-a-key",
    ]
    assert await store.open_keys(forged) == {}


async def test_a_key_stored_whole_before_keys_were_derived_still_opens(pool: asyncpg.Pool) -> None:
    store = await _store(pool)
    key_id, key = f"{A}_{Period(30, DAY1).code}_0123abcd", os.urandom(KEY_BYTES)
    await pool.execute(
        "INSERT INTO privacy_keys (key_id, subject_ref, period, wrapped) VALUES ($1, $2, $3, $4)",
        key_id,
        A,
        "legacy",
        MASTER.wrap(key_id, key),
    )
    assert await store.open_keys([key_id]) == {key_id: key}
    await store.shred_subjects([A], "erasure")
    assert await store.open_keys([key_id]) == {key_id: None}


async def test_producers_making_the_same_keys_at_once_agree(pool: asyncpg.Pool) -> None:
    await _store(pool)
    slots = [_slot(f"{i:032x}", DAY1 + timedelta(days=i % 3)) for i in range(200)]
    stores = [PostgresKeyStore(pool, MASTER) for _ in range(4)]
    results = await asyncio.gather(*(s.sealing_keys(slots) for s in stores))
    assert all(r == results[0] for r in results)
    assert await pool.fetchval("SELECT count(*) FROM privacy_keys") == 200 + 3
