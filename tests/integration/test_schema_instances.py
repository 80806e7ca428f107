"""Whatever a published contract accepts reaches the timeline; nothing is dead-lettered.

For every type and version in ``schemas/index.json``, ``hypothesis-jsonschema`` draws
instances from the published JSON Schema (a fixed seed), as a channel system written in
another language might send them. Each goes through the door the SDK and the gateway use
(the models); the accepted ones are published together to the real pipeline (embedded
broker, identity, timeline and profile stages, PostgreSQL). Every accepted event must
reach the timeline and none may be dead-lettered. The door may refuse only what the
contract refuses too: the JSON Schema read exactly (numbers as written), or a rule the
type's contract names in its ``x-rules``.

The identity family's events are bookkeeping the timeline does not show (a customer's
identity history does): they must pass the pipeline without a dead letter. Decisions
about the identity graph (``customer.merged``, ``customer.split``,
``customer.merge_rejected``) go through the door but are not published: channels do not
send them (people do, with ``touchlog identity``), and whether the graph can apply one
depends on the customers it names, not on its contract: one naming customers the graph
has never met is rightly dead-lettered by the resolver.
"""

from __future__ import annotations

import json
import multiprocessing
import re
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from events import InvalidEvent, Touchpoint, decode
from events.conformance import Contracts, read_exactly
from events.touchpoints.identity import TYPES as IDENTITY_TYPES
from producers import Publisher
from tests.integration.pipeline_support import endpoints, pipeline, pipeline_settings
from tests.waiting import eventually
from touchlog.embedded import EmbeddedBroker

pytestmark = pytest.mark.integration

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
PER_VERSION = 20
DECISIONS = frozenset({"customer.merged", "customer.split", "customer.merge_rejected"})
NOT_IN_TIMELINE = frozenset(cls.type_name() for cls in IDENTITY_TYPES)
_X_RULE = re.compile(r"\(x-rule ([a-z0-9-]+)\)")


def _published() -> list[str]:
    index = json.loads((SCHEMAS / "index.json").read_text())
    return [path for entry in index["types"].values() for path in entry["versions"].values()]


# --- drawing instances (in worker processes: it is the slow part) ----------------------


def _compatible_hypothesis_jsonschema() -> None:
    """hypothesis-jsonschema 0.23 with a current hypothesis, fast enough for a test.

    It drives hypothesis' private ``many`` with ``more()``, which became an iterator; and
    it canonicalises every sub-schema again on every draw, which a cache by the schema's
    JSON avoids (strategies are immutable, so sharing them changes nothing drawn).
    """
    import hypothesis_jsonschema._from_schema as drawing
    from hypothesis.internal.conjecture import utils

    class OldStyleMany:
        def __init__(self, data: Any, min_size: int, max_size: float, average_size: float):
            self._many = utils.many(data, min_size, max_size, average_size)
            self._many.__enter__()
            self._elements = iter(self._many)

        def more(self) -> bool:
            if next(self._elements, None) is None and self._many._done:
                self._many.__exit__(None)
                return False
            return True

        def reject(self, why: str | None = None) -> None:
            self._many.reject(why)

    class Utils:
        many = OldStyleMany

    draw_schema = getattr(drawing, "__from_schema")
    strategies: dict[tuple[str, int, bool], Any] = {}

    def cached(schema: Any, *, alphabet: Any, custom_formats: Any) -> Any:
        key = (json.dumps(schema, sort_keys=True), id(alphabet), custom_formats is None)
        if key not in strategies:
            strategies[key] = draw_schema(schema, alphabet=alphabet, custom_formats=custom_formats)
        return strategies[key]

    drawing.cu = Utils
    setattr(drawing, "__from_schema", cached)


def without_sealed(node: Any, defs: dict[str, Any] | None = None) -> Any:
    """The contract as a producer's door reads it: a personal field's sealed alternative
    (``x-sealed``, the form the log holds once a producer touchlog ships has sealed it;
    docs/PRIVACY.md) left out, the clear form kept."""
    if defs is None and isinstance(node, dict):
        defs = node.get("$defs", {})
    if isinstance(node, list):
        return [without_sealed(item, defs) for item in node]
    if not isinstance(node, dict):
        return node

    def sealed(branch: Any) -> bool:
        ref = branch.get("$ref", "") if isinstance(branch, dict) else ""
        target = (defs or {}).get(ref.rsplit("/", 1)[-1], {}) if ref else branch
        return isinstance(target, dict) and bool(target.get("x-sealed"))

    node = {key: without_sealed(value, defs) for key, value in node.items()}
    if isinstance(node.get("anyOf"), list) and any(sealed(b) for b in node["anyOf"]):
        kept = [b for b in node["anyOf"] if not sealed(b)]
        rest = {key: value for key, value in node.items() if key != "anyOf"}
        node = {**rest, **kept[0]} if len(kept) == 1 else {**rest, "anyOf": kept}
    return node


def draw_instances(relative: str) -> list[Any]:
    """``PER_VERSION`` instances of one published contract, the same on every run."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis_jsonschema import from_schema

    _compatible_hypothesis_jsonschema()
    drawn: list[Any] = []

    @settings(
        derandomize=True,
        database=None,
        max_examples=PER_VERSION,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(from_schema(without_sealed(json.loads((SCHEMAS / relative).read_text()))))
    def collect(instance: Any) -> None:
        drawn.append(instance)

    collect()
    return drawn


# --- the test ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def instances() -> dict[str, list[Any]]:
    published = _published()
    spawn = multiprocessing.get_context("spawn")  # no fork of a process running a broker
    with ProcessPoolExecutor(max_workers=2, mp_context=spawn) as workers:
        return dict(zip(published, workers.map(draw_instances, published), strict=True))


def _door(instance: Any) -> Touchpoint | InvalidEvent:
    """What the SDK and the gateway do with a document: the models, reading its JSON."""
    try:
        return decode(json.dumps(instance))
    except InvalidEvent as exc:
        return exc


def _unexcused(relative: str, instance: Any, refusal: InvalidEvent, contracts: Contracts) -> str:
    """Why a refusal of ``instance`` is a lie of the contract; empty when it is not."""
    text = json.dumps(instance)
    if contracts.schema_errors(read_exactly(text)):
        return ""  # the schema, read exactly, refuses it too
    named = {rule["name"] for rule in json.loads((SCHEMAS / relative).read_text())["x-rules"]}
    if all(set(_X_RULE.findall(e.reason)) & named for e in refusal.errors):
        return ""
    return f"{relative}: {refusal} for {text[:300]}"


def _unique(events: list[Touchpoint]) -> list[Touchpoint]:
    """Drawn message ids repeat ("0"); the log would rightly take a repeat as a retry."""
    seen: set[tuple[str, str]] = set()
    unique = []
    for number, event in enumerate(events):
        key = (event.source.system, event.message_id)
        if key in seen:
            event = event.model_copy(update={"message_id": f"drawn-{number}"})
            key = (event.source.system, event.message_id)
        seen.add(key)
        unique.append(event)
    return unique


async def test_every_published_contract_instance_is_refused_at_the_door_or_in_the_timeline(
    instances: dict[str, list[Any]],
    broker: EmbeddedBroker,
    topics: dict[str, str],
    pool: asyncpg.Pool,
    database_url: str,
) -> None:
    contracts = Contracts.load(SCHEMAS)
    accepted: list[Touchpoint] = []
    lies: list[str] = []
    refused: Counter[str] = Counter()
    for relative, drawn in instances.items():
        assert len(drawn) >= PER_VERSION, f"{relative}: only {len(drawn)} instances"
        for instance in drawn:
            verdict = _door(instance)
            if isinstance(verdict, InvalidEvent):
                refused[relative] += 1
                if lie := _unexcused(relative, instance, verdict, contracts):
                    lies.append(lie)
            else:
                accepted.append(verdict)
    assert lies == [], "\n".join(lies)

    events = _unique([event for event in accepted if event.type not in DECISIONS])
    async with Publisher(
        broker.bootstrap_servers, topic=topics["touchpoints"], idempotence=False
    ) as publisher:
        await publisher.publish_many(events)

    shown = [event for event in events if event.type not in NOT_IN_TIMELINE]
    expected = {(event.source.system, event.message_id) for event in shown}
    settings = pipeline_settings(topics)
    async with pipeline(settings, endpoints(broker.bootstrap_servers, database_url), pool):
        landed = await eventually(
            lambda: _landed(pool),
            lambda landed: expected <= landed or landed.dead > 0,
            what=f"{len(expected)} drawn events in the timeline",
        )
        # The bookkeeping events too: every record read by every stage, none dead.
        await eventually(
            lambda: pool.fetch(
                "SELECT consumer, sum(next_offset) AS read FROM consumer_offsets "
                "WHERE topic = ANY($1) GROUP BY consumer",
                [topics["touchpoints"], topics["resolved"]],
            ),
            lambda stages: len(stages) == 3 and all(s["read"] >= len(events) for s in stages),
            what=f"{len(events)} records read by the identity, timeline and profile stages",
        )

    assert await pool.fetch("SELECT consumer, reason FROM dead_letters LIMIT 5") == []
    missing = Counter(e.type for e in shown if (e.source.system, e.message_id) not in landed)
    assert missing == Counter(), "accepted events not in the timeline, by type"
    print(f"\n{len(events)} drawn events in the timeline; refused at the door: {dict(refused)}")


class _Landed(set[tuple[str, str]]):
    dead = 0


async def _landed(pool: asyncpg.Pool) -> _Landed:
    landed = _Landed(
        (row["source_system"], row["message_id"])
        for row in await pool.fetch("SELECT source_system, message_id FROM timeline_v1")
    )
    landed.dead = await pool.fetchval("SELECT count(*) FROM dead_letters")
    return landed
