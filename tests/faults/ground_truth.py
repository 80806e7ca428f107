"""The ground truth of the fault suite: a workload whose every event is known, published by
a Kafka client touchlog did not write (confluent-kafka), and the counts that compare what
a faulted pipeline made of it with what a clean run of the same log makes.

The workload is people in households. Each person has an email, a mobile, a loyalty card
and, for some, the customer id a CRM gave them; the household shares a landline. An event
names its subject by one or two of those (so resolution creates customers and merges them
as evidence arrives), and some events are low-rated surveys, each worth one call-back
trigger. A household's events are keyed by its account number, so they share a partition
and keep their order: resolution then depends on no interleaving across partitions, and
the workload can be published in slices while the pipeline runs.
"""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from events import encode, from_mapping
from events.resolved import RESOLVED
from producers.publisher import prepare, record_headers
from projections.triggers import CustomerState, TriggerEngine, parse_rules
from tests.factories import KINDS, UNITS, _written_phone, event_dict
from tests.integration.kafka_support import read_topic

SURVEY_RULES = {
    "rules": [{"name": "unhappy-call-back", "type": "survey_follow_up", "max_rating": 2}],
}
"""One rule whose triggers depend only on the event and the customer it resolved to (a
timer, a cap or a merged customer's state moving to its survivor would make the expected
set depend on timing, not on the log)."""

SUBJECT_FORMS = (
    ("email",),
    ("email",),
    ("mobile",),
    ("mobile",),
    ("loyalty",),
    ("customer_id",),
    ("customer_id", "email"),
    ("customer_id", "mobile"),
    ("email", "mobile"),
    ("email", "loyalty"),
    ("mobile", "loyalty"),
    ("landline",),
    ("email", "landline"),
)


@dataclass(frozen=True, slots=True)
class Person:
    household: int
    email: str
    mobile: str  # national significant number, written differently by each channel
    loyalty: str
    customer_id: str | None  # the CRM's customer number, for some


@dataclass(frozen=True, slots=True)
class Planned:
    """One event as published, and what it is really about."""

    message_id: str
    person: str
    subject: tuple[str, ...]  # which of the person's identifiers the subject carried
    low_survey: bool  # a rating ≤ 2: one call-back trigger expected
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


def _people(households: int, rng: random.Random) -> list[Person]:
    people = []
    for h in range(households):
        for _ in range(rng.choice((1, 1, 2, 2, 3))):
            n = len(people)
            people.append(
                Person(
                    household=h,
                    email=f"gt{n}@example.org",
                    mobile=f"61{n:07d}",  # a valid French mobile: 06 1x xx xx xx
                    loyalty=f"GT{n:06d}",
                    customer_id=f"CRM-{n:06d}" if rng.random() < 0.3 else None,
                )
            )
    return people


def _subject(person: Person, form: tuple[str, ...], rng: random.Random) -> dict[str, Any]:
    written: dict[str, Any] = {}
    for part in form:
        match part:
            case "email":
                written["email"] = rng.choice([person.email, person.email.upper()])
            case "mobile":
                written["phone"] = _written_phone(rng, person.mobile)
            case "landline":
                written["phone"] = f"01{person.household:08d}"
            case "loyalty":
                written["external_ids"] = [{"type": "loyalty", "id": person.loyalty}]
            case "customer_id":
                written["customer_id"] = person.customer_id
    return written


def _survey(rating: int) -> dict[str, Any]:
    return {
        "survey_id": "S-GT",
        "survey_name": "After the visit",
        "answers": [{"question_id": "q1", "question": "Overall", "rating": rating}],
    }


def workload(count: int, *, seed: int, start: datetime | None = None) -> list[Planned]:
    """``count`` events about ``count`` / 11 people or so, in households of one to three,
    ready to publish as a channel system would: validated, stamped, keyed by household.

    Events happened in the two days from ``start`` (default: three days ago), so that their
    triggers are still current for a worker on the wall clock."""
    rng = random.Random(seed)
    people = _people(max(count // 20, 3), rng)
    start = start or (datetime.now(UTC) - timedelta(days=3)).replace(microsecond=0)
    planned = []
    for i in range(count):
        index = rng.randrange(len(people))
        person = people[index]
        forms = [f for f in SUBJECT_FORMS if person.customer_id or "customer_id" not in f]
        form = rng.choice(forms)
        kind = "survey.responded" if rng.random() < 0.08 else rng.choice(KINDS)
        data = event_dict(
            "call.logged" if kind == "survey.responded" else kind,
            message_id=f"gt-{i:07d}",
            at=start + timedelta(seconds=rng.randrange(2 * 86_400)),
            business_unit=rng.choice(UNITS),
        )
        rating = 0
        if kind == "survey.responded":
            rating = rng.randint(1, 5)
            data |= {"type": kind, "payload": _survey(rating)}
            data["source"]["channel"] = "email"
        data["subject"] = _subject(person, form, rng)
        event = prepare(from_mapping(data))
        planned.append(
            Planned(
                message_id=event.message_id,
                person=f"h{person.household}/p{index}",
                subject=form,
                low_survey=0 < rating <= 2,
                key=f"household-{person.household}".encode(),
                value=encode(event),
                headers=record_headers(event),
            )
        )
    return planned


def coverage(events: Iterable[Planned]) -> str:
    """How many events name their subject by each kind of identifier."""
    kinds = {"email": "email", "mobile": "phone", "landline": "phone", "loyalty": "external id"}
    counted = Counter(kinds.get(part, part.replace("_", " ")) for e in events for part in e.subject)
    return ", ".join(f"{kind} {n}" for kind, n in sorted(counted.items()))


# --- publishing with a client touchlog did not write ---------------------------------------


class DeliveryFailed(AssertionError):
    pass


def publish(bootstrap: str, topic: str, events: Sequence[Planned]) -> dict[int, int]:
    """Send with confluent-kafka (librdkafka), ``acks=all``, keys hashed as Java clients do;
    wait for every acknowledgement. Returns the next offset of each partition written."""
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "enable.idempotence": False,  # the embedded broker rejects InitProducerId
            "partitioner": "murmur2_random",
            "linger.ms": 5,
            "message.timeout.ms": 60_000,
        }
    )
    ends: dict[int, int] = {}
    failures: list[str] = []

    def delivered(error: KafkaError | None, message: Message) -> None:
        if error is not None:
            failures.append(f"{message.key()!r}: {error}")
            return
        partition, offset = message.partition(), message.offset()
        ends[partition] = max(ends.get(partition, 0), offset + 1)

    for planned in events:
        while True:
            try:
                producer.produce(
                    topic,
                    planned.value,
                    planned.key,
                    headers=planned.headers,
                    on_delivery=delivered,
                )
                break
            except BufferError:  # the local queue is full: let deliveries drain it
                producer.poll(0.1)
        producer.poll(0)
    left = producer.flush(60)
    if left or failures:
        raise DeliveryFailed(f"{left} events unacknowledged after 60 s; failures: {failures[:5]}")
    return ends


# --- the clean run and what a faulted run is compared with ---------------------------------


@dataclass
class Reference:
    """What a clean run of the log makes of each event."""

    customer: dict[str, str]  # message id → the timeline row's subject (its customer)
    profile: dict[str, frozenset[str]]  # message id → customers whose profile it states
    triggers: dict[str, str]  # trigger id → the message id that justified it


def expected_triggers(resolved: Iterable[Any], now: datetime | None = None) -> dict[str, str]:
    """The survey rule folded over a clean run's ``touchlog.resolved`` records, partition
    by partition as the worker reads them: trigger id → its evidence's message id."""
    engine = TriggerEngine(parse_rules(SURVEY_RULES))
    now = now or datetime.now(UTC)
    states: dict[str, CustomerState] = defaultdict(CustomerState)
    triggers = {}
    for record in sorted(resolved, key=lambda r: (r.partition, r.offset)):
        stamped = RESOLVED.decode(record.value)
        customer = stamped.customer_id
        states[customer], decided = engine.apply(
            states[customer], customer, stamped.event, now, record.offset
        )
        for trigger in decided:
            if trigger.suppressed is None:
                (evidence,) = trigger.evidence
                triggers[trigger.trigger_id] = evidence
    return triggers


# --- a faulted pipeline's state after a fault ------------------------------------------------


@dataclass
class Snapshot:
    """What the faulted pipeline holds once it settled after ``fault``."""

    fault: str
    sent: list[str]
    in_log: Counter[str]
    timeline: dict[str, list[str]]  # message id → subjects of its rows
    profile: dict[str, frozenset[str]]
    resolved: dict[str, set[str]]  # message id → customers it was stamped with
    triggers: Counter[tuple[str, str]]  # (trigger id, evidence) → records on the topic
    dead_letters: int
    settled: bool


async def message_ids_in(bootstrap: str, topic: str) -> Counter[str]:
    """Records per message id in a topic of touchpoints, read to the high watermark."""
    return Counter(json.loads(r.value)["message_id"] for r in await read_topic(bootstrap, topic))


async def stamped_customers(bootstrap: str, topic: str) -> dict[str, set[str]]:
    """Message id → every customer a record of ``touchlog.resolved`` stamped it with."""
    customers: dict[str, set[str]] = defaultdict(set)
    for record in await read_topic(bootstrap, topic):
        stamped = json.loads(record.value)
        customers[stamped["event"]["message_id"]].add(stamped["customer_id"])
    return customers


async def triggers_in(bootstrap: str, topic: str) -> Counter[tuple[str, str]]:
    """(trigger id, the message id that justified it) → records on a triggers topic."""
    triggers = [json.loads(r.value) for r in await read_topic(bootstrap, topic)]
    return Counter((t["trigger_id"], ",".join(t["evidence"])) for t in triggers)


TIMELINE_SUBJECTS = "SELECT message_id, subject_key FROM timeline_v1"
PROFILE_CUSTOMERS = "SELECT DISTINCT message_id, customer_id FROM profile_facts_v1"


def timeline_subjects(rows: Iterable[Any]) -> dict[str, list[str]]:
    subjects: dict[str, list[str]] = defaultdict(list)
    for message_id, subject in rows:
        subjects[message_id].append(subject)
    return subjects


def profile_customers(rows: Iterable[Any]) -> dict[str, frozenset[str]]:
    customers: dict[str, set[str]] = defaultdict(set)
    for message_id, customer in rows:
        customers[message_id].add(customer)
    return {m: frozenset(c) for m, c in customers.items()}


# --- the counts --------------------------------------------------------------------------


@dataclass(frozen=True)
class Counts:
    fault: str
    sent: int
    in_log: int
    log_lost: int
    timeline: int
    lost: int
    duplicated: int
    misplaced: int
    profile: int
    profile_lost: int
    profile_misplaced: int
    resolved_conflicting: int
    triggers_expected: int
    triggers_on_topic: int
    triggers_duplicated: int
    triggers_missing: int
    triggers_misplaced: int
    triggers_unexpected: int
    dead_letters: int
    settled: bool

    @property
    def clean(self) -> bool:
        return self.settled and not any(
            (
                self.log_lost,
                self.lost,
                self.duplicated,
                self.misplaced,
                self.profile_lost,
                self.profile_misplaced,
                self.resolved_conflicting,
                self.triggers_duplicated,
                self.triggers_missing,
                self.triggers_misplaced,
                self.triggers_unexpected,
                self.dead_letters,
            )
        )


def count(snapshot: Snapshot, reference: Reference) -> Counts:
    sent = set(snapshot.sent)
    rows = {m: snapshot.timeline.get(m, []) for m in sent}
    expected_profile = {m: c for m, c in reference.profile.items() if m in sent}
    expected = {m: t for t, m in reference.triggers.items() if m in sent}  # evidence → id
    on_topic = snapshot.triggers
    fired: dict[str, set[str]] = defaultdict(set)  # evidence → trigger ids on the topic
    for trigger, evidence in on_topic:
        fired[evidence].add(trigger)
    return Counts(
        fault=snapshot.fault,
        sent=len(snapshot.sent),
        in_log=sum(snapshot.in_log.values()),
        log_lost=len(sent - snapshot.in_log.keys()),
        timeline=sum(len(r) for r in rows.values()),
        lost=sum(1 for r in rows.values() if not r),
        duplicated=sum(1 for r in rows.values() if len(r) > 1),
        misplaced=sum(1 for m, r in rows.items() if any(s != reference.customer.get(m) for s in r)),
        profile=sum(1 for m in expected_profile if m in snapshot.profile),
        profile_lost=sum(1 for m in expected_profile if m not in snapshot.profile),
        profile_misplaced=sum(
            1
            for m, customers in expected_profile.items()
            if m in snapshot.profile and snapshot.profile[m] != customers
        )
        + sum(1 for m in sent & snapshot.profile.keys() if m not in expected_profile),
        resolved_conflicting=sum(1 for m in sent if len(snapshot.resolved.get(m, ())) > 1),
        triggers_expected=len(expected),
        triggers_on_topic=sum(on_topic.values()),
        triggers_duplicated=sum(n - 1 for n in on_topic.values() if n > 1),
        triggers_missing=sum(1 for m in expected if m not in fired),
        # fired for its event, under another customer than the clean run's (another id)
        triggers_misplaced=sum(1 for m, t in expected.items() if m in fired and fired[m] != {t}),
        triggers_unexpected=sum(1 for m in fired if m not in expected),
        dead_letters=snapshot.dead_letters,
        settled=snapshot.settled,
    )


def wrong_in_timeline(snapshot: Snapshot, reference: Reference) -> dict[str, str]:
    """Events not exactly once under the clean run's customer: what went wrong with each."""
    wrong = {}
    for m in snapshot.sent:
        rows = snapshot.timeline.get(m, [])
        if len(rows) != 1 or rows[0] != reference.customer.get(m):
            stamped = sorted(snapshot.resolved.get(m, ()))
            wrong[m] = f"timeline {rows}, clean {reference.customer.get(m)}, stamped {stamped}"
    return wrong


COLUMNS = (
    ("fault", "fault", 34),
    ("sent", "sent", 6),
    ("in_log", "in log", 6),
    ("timeline", "timeline", 8),
    ("lost", "lost", 5),
    ("duplicated", "dup", 5),
    ("misplaced", "misplaced", 9),
    ("profile", "profile", 7),
    ("profile_lost", "p.lost", 6),
    ("profile_misplaced", "p.misp", 6),
    ("resolved_conflicting", "res.conflict", 12),
    ("triggers_expected", "trig.exp", 8),
    ("triggers_on_topic", "on topic", 8),
    ("triggers_duplicated", "t.dup", 5),
    ("triggers_missing", "t.miss", 6),
    ("triggers_misplaced", "t.misp", 6),
    ("triggers_unexpected", "t.unexp", 7),
    ("dead_letters", "dead", 4),
    ("settled", "settled", 7),
)


def report(counts: Sequence[Counts], notes: Sequence[str] = ()) -> str:
    """The table the suite prints: one line per fault, then what happened when."""
    header = " ".join(f"{title:>{width}}" for _, title, width in COLUMNS)
    lines = [header]
    for c in counts:
        cells = []
        for name, _, width in COLUMNS:
            value = getattr(c, name)
            if name == "fault":
                cells.append(f"{value:<{width}}"[:width])
            elif isinstance(value, bool):
                cells.append(f"{'yes' if value else 'NO':>{width}}")
            else:
                cells.append(f"{value:>{width}}")
        lines.append(" ".join(cells))
    return "\n".join(lines + [f"  {n}" for n in notes])
