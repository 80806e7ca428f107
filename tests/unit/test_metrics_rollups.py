"""The metrics fold against an independent recomputation from the raw events: however a
generated year is cut into batches, the daily rollups are the same (issue 19, acceptance 1)."""

from __future__ import annotations

from collections import Counter, defaultdict
from decimal import Decimal
from itertools import pairwise

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events import Touchpoint
from producers.demo.history import history_events
from projections.metrics.facts import Fact
from projections.metrics.fold import CaseState, CustomerState, MetricsFold
from projections.metrics.postgres import MetricsView
from tests.metrics_support import NOW, Cell, recompute


def fold_in_batches(
    events: list[Touchpoint], cuts: list[int], replayed: int
) -> dict[Cell, dict[str, int | Decimal]]:
    """The view's pure part in batches cut at ``cuts``, the batch ``replayed`` given twice,
    deduplicated as the PostgreSQL adapter does (by source and message id)."""
    view, fold = MetricsView(), MetricsFold()
    customers: dict[str, CustomerState] = {}
    cases: dict[str, CaseState] = {}
    seen: set[tuple[str, str]] = set()
    daily: defaultdict[Cell, Counter[str]] = defaultdict(Counter)
    bounds = sorted({0, *cuts, len(events)})
    batches = [events[a:b] for a, b in pairwise(bounds)]
    if batches:
        batches.insert(replayed % len(batches), batches[replayed % len(batches)])
    for batch in batches:
        new = [f for f in view.changes(batch) if f.identity() not in seen]
        seen.update(f.identity() for f in new)
        for key, counts in fold.fold(new, customers, cases).daily.items():
            daily[key].update(counts)  # type: ignore[index]
    return {k: {m: v for m, v in c.items() if v} for k, c in daily.items()}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    customers=st.integers(3, 25),
    cuts=st.lists(st.integers(0, 3000), max_size=8),
    replayed=st.integers(0, 10),
)
def test_daily_rollups_equal_a_recomputation_from_the_raw_events(
    seed: int, customers: int, cuts: list[int], replayed: int
) -> None:
    year = list(history_events(customers, years=0, seed=seed, now=NOW))
    assert year, "a year of history has events"
    assert fold_in_batches(year, cuts, replayed) == recompute(year)


def test_the_recomputation_sees_every_measure() -> None:
    """The comparison is not vacuous: the generated year exercises every measure."""
    cells = recompute(list(history_events(40, years=0, seed=3, now=NOW)))
    measures = {m for counts in cells.values() for m in counts}
    assert {
        "contacts",
        "new_customers",
        "purchases",
        "revenue",
        "complaints_opened",
        "complaints_resolved",
        "resolve_seconds",
        "first_contact_resolutions",
        "surveys",
        "nps_count",
        "promoters",
        "detractors",
    } <= measures


def test_a_customer_who_changes_bands_moves_between_cells() -> None:
    """The cross-reference's cells are kept incrementally: a new income band takes the
    customer, their spend and ratings, out of the old cell into the new one."""
    fold, customers, cases = MetricsFold(), {}, {}  # type: ignore[var-annotated]
    when = NOW.replace(month=1)
    first = Fact("s", "1", "C-1", when, "profile.updated", "retail", "web",
                 age_band="35_49", income_band="20k_40k")  # fmt: skip
    bought = Fact("s", "2", "C-1", when.replace(day=2), "purchase.completed", "retail", "store",
                  revenue=Decimal("50.00"), bought=("home",))  # fmt: skip
    moved = Fact("s", "3", "C-1", when.replace(day=3), "profile.updated", "retail", "web",
                 income_band="40k_70k")  # fmt: skip
    total: Counter[tuple[object, ...]] = Counter()
    for batch in ([first, bought], [moved]):
        for key, counts in fold.fold(batch, customers, cases).bands.items():
            total[(*key, "customers")] += counts["customers"]
            total[(*key, "spend")] += counts["spend"]
    assert total[("35_49", "20k_40k", "customers")] == 0
    assert total[("35_49", "20k_40k", "spend")] == 0
    assert total[("35_49", "40k_70k", "customers")] == 1
    assert total[("35_49", "40k_70k", "spend")] == Decimal("50.00")
