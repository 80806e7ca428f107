"""The faust triggers app against the real broker: rules, consent, crashes, restarts.

Time is simulated: the worker runs with a manual clock that moves only when the
test publishes a ``tick`` command, so a 30-day rule is tested without waiting.
"""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import timedelta

import pytest

from projections.triggers import Suppression
from tests.factories import BASE_TIME
from tests.integration.trigger_worker_support import TriggerWorld
from tests.triggers_support import complaint, consent, purchase, survey, touchpoint
from tests.waiting import eventually

pytestmark = pytest.mark.integration

RULES = """
rules:
  - {name: jumper-to-jacket, type: cross_sell, bought: jumpers, offer: jackets, within_days: 30}
  - {name: unhappy-call-back, type: survey_follow_up}
  - {name: complaint-sla, type: complaint_escalation,
     sla_hours: {low: 120, medium: 72, high: 24, critical: 4}}
"""


async def test_revoked_consent_keeps_the_offer_off_the_topic_and_records_why(
    world: TriggerWorld,
) -> None:
    await world.create_topics()
    t0 = BASE_TIME
    events = [
        ("ann", touchpoint("consent.changed", "ann", t0, consent("granted"), email="a@x.com")),
        ("bob", touchpoint("consent.changed", "bob", t0, consent("granted"), email="b@x.com")),
        ("bob", touchpoint("consent.changed", "bob", t0 + timedelta(hours=1), consent("revoked"))),
        (
            "ann",
            touchpoint("purchase.completed", "ann", t0 + timedelta(days=1), purchase("jumpers")),
        ),
        (
            "bob",
            touchpoint("purchase.completed", "bob", t0 + timedelta(days=1), purchase("jumpers")),
        ),
        ("bob", touchpoint("survey.responded", "bob", t0 + timedelta(days=2), survey(1, 3))),
    ]
    await world.publish(events)
    world.start(RULES)
    # Day 2: only the immediate call-back, a service task, which needs no marketing consent.
    [call_back] = await eventually(
        world.triggers, lambda ts: len(ts) >= 1, timeout=90, what="the survey call-back"
    )
    assert (call_back.customer_id, call_back.rule) == ("bob", "unhappy-call-back")
    await world.tick(t0 + timedelta(days=31, hours=1))
    suppressed = await eventually(lambda: world.triggers("suppressed"), bool, what="suppression")
    emitted = await eventually(world.triggers, lambda ts: len(ts) >= 2, what="ann's offer")
    offers = [t for t in emitted if t.rule == "jumper-to-jacket"]
    assert [(t.customer_id, t.channel, t.offer) for t in offers] == [("ann", "email", "jackets")]
    [held] = suppressed
    assert (held.customer_id, held.rule, held.suppressed) == (
        "bob",
        "jumper-to-jacket",
        Suppression.NO_CONSENT,
    )
    assert "email: revoked" in (held.suppressed_reason or "")
    assert world.stop() == 0, world.log_text()


async def test_killed_and_restarted_worker_loses_no_timer_and_repeats_no_trigger(
    world: TriggerWorld,
) -> None:
    await world.create_topics()
    customers = [f"c{i:04d}" for i in range(1500)]
    t0 = BASE_TIME
    events = []
    for i, c in enumerate(customers):
        at = t0 + timedelta(seconds=i)
        events.append((c, touchpoint("complaint.opened", c, at, complaint(f"K-{i}", "high"))))
        events.append((c, touchpoint("survey.responded", c, at, survey(1, 2))))
        if i % 2:
            resolved = {"case_id": f"K-{i}", "resolution": "Refunded", "resolved_by": "agent-1"}
            events.append(
                (c, touchpoint("complaint.resolved", c, at + timedelta(hours=1), resolved))
            )
    await world.publish(events)

    world.start(RULES)
    seen = await eventually(
        world.triggers, lambda ts: len(ts) >= 100, timeout=90, what="first call-backs"
    )
    world.kill()  # SIGKILL: no flush, no commit
    at_kill = len(seen)

    # A new worker with an empty data dir: its state can only come from the changelog.
    shutil.rmtree(world.data_dir / "triggers", ignore_errors=True)
    world.start(RULES)
    await eventually(
        world.triggers,
        lambda ts: len({t.trigger_id for t in ts}) >= len(customers),
        timeout=120,
        what="every call-back",
    )
    # Past every SLA: the timers set before the kill must still fire.
    await world.tick(t0 + timedelta(days=2))
    unresolved = {c for i, c in enumerate(customers) if not i % 2}
    final = await eventually(
        world.triggers,
        lambda ts: len({t.trigger_id for t in ts}) >= len(customers) + len(unresolved),
        timeout=120,
        what="every escalation",
    )
    by_rule = Counter(t.rule for t in {t.trigger_id: t for t in final}.values())
    assert by_rule == {"unhappy-call-back": len(customers), "complaint-sla": len(unresolved)}
    assert {t.customer_id for t in final if t.rule == "complaint-sla"} == unresolved
    repeated = [tid for tid, n in Counter(t.trigger_id for t in final).items() if n > 1]
    print(f"killed after {at_kill} triggers; {len(repeated)} repeated on the topic")
    assert repeated == []
    assert world.stop() == 0, world.log_text()
