"""Segments: labels marketing selects customers by, computed from the profile at a moment."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from projections.profile.state import ProfileState

NEW_FOR = timedelta(days=90)
LAPSED_AFTER = timedelta(days=365)
HIGH_VALUE = Decimal(1000)


def of(state: ProfileState, moment: datetime) -> list[str]:
    """The customer's segments at ``moment``, sorted."""
    labels = set()
    if state.first_contact is not None and moment - state.first_contact < NEW_FOR:
        labels.add("new_customer")
    purchases = state.purchases
    if purchases.count >= 2:
        labels.add("repeat_buyer")
    if any(total >= HIGH_VALUE for _, total in purchases.by_currency.values()):
        labels.add("high_value")
    if purchases.last is not None and moment - purchases.last.occurred_at > LAPSED_AFTER:
        labels.add("lapsed")
    if any(case.open for case in state.complaints.values()):
        labels.add("open_complaint")
    nps = state.value_of("nps")
    if nps is not None:
        labels.add("promoter" if nps >= 9 else "detractor" if nps <= 6 else "passive")
    if state.rewards:
        labels.add("rewards_member")
    return sorted(labels)
