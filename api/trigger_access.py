"""Who sees and works which triggers (pure).

- ``agent``: service tasks and marketing offers, never suppressed ones; open and
  acknowledged ones unless it asks for other statuses. Acknowledges and closes.
- ``marketing``: marketing triggers only, never suppressed ones; open and acknowledged
  ones by default. Closes marketing triggers.
- ``manager``: everything, suppressed ones with their reasons; every status by default.
  Acknowledges and closes.

What raised a trigger (its ``reason``) is service-tier data: an agent reads it only with
``reveal=service`` and a reason, for one customer, and every read is audited.
"""

from __future__ import annotations

from collections.abc import Set

from api.profile_access import readable_tiers
from api.roles import Refused, Role
from events import Tier
from projections.triggers.lifecycle import Action, Status
from projections.triggers.model import Kind

_WORKING = frozenset({Status.OPEN, Status.ACKNOWLEDGED})
_ALL_STATUSES = frozenset(Status)
_ALL_KINDS = frozenset(Kind)

KINDS: dict[Role, frozenset[Kind]] = {
    Role.AGENT: _ALL_KINDS,
    Role.MARKETING: frozenset({Kind.MARKETING}),
    Role.MANAGER: _ALL_KINDS,
}
STATUSES: dict[Role, frozenset[Status]] = {
    Role.AGENT: _ALL_STATUSES - {Status.SUPPRESSED},
    Role.MARKETING: _ALL_STATUSES - {Status.SUPPRESSED},
    Role.MANAGER: _ALL_STATUSES,
}
DEFAULT_STATUSES: dict[Role, frozenset[Status]] = {
    Role.AGENT: _WORKING,
    Role.MARKETING: _WORKING,
    Role.MANAGER: _ALL_STATUSES,
}
ACTIONS: dict[Role, dict[Action, frozenset[Kind]]] = {
    Role.AGENT: {Action.ACKNOWLEDGE: _ALL_KINDS, Action.CLOSE: _ALL_KINDS},
    Role.MARKETING: {Action.CLOSE: frozenset({Kind.MARKETING})},
    Role.MANAGER: {Action.ACKNOWLEDGE: _ALL_KINDS, Action.CLOSE: _ALL_KINDS},
}


def _names(values: Set[Kind] | Set[Status]) -> str:
    return ", ".join(sorted(v.value for v in values))


def listing_scope(
    role: Role, statuses: Set[Status], kinds: Set[Kind]
) -> tuple[frozenset[Status], frozenset[Kind]]:
    """The statuses and kinds to list for ``role`` given what it asked for (empty: the
    role's defaults); ``Refused`` naming what it may not have."""
    refused_statuses = set(statuses) - STATUSES[role]
    if refused_statuses:
        raise Refused(
            f"the {role.value} role may not list {_names(refused_statuses)} triggers; managers may"
        )
    refused_kinds = set(kinds) - KINDS[role]
    if refused_kinds:
        raise Refused(
            f"the {role.value} role may not list {_names(refused_kinds)} triggers; "
            f"it sees {_names(KINDS[role])} ones"
        )
    return (
        frozenset(statuses) or DEFAULT_STATUSES[role],
        frozenset(kinds) or KINDS[role],
    )


def check_visible(role: Role, kind: Kind, status: Status) -> None:
    """``Refused`` if ``role`` may not see a trigger of this kind in this status."""
    if kind not in KINDS[role]:
        raise Refused(f"the {role.value} role may not see {kind.value} triggers")
    if status not in STATUSES[role]:
        raise Refused(f"the {role.value} role may not see {status.value} triggers; managers may")


def check_action(role: Role, kind: Kind, status: Status, action: Action) -> None:
    """``Refused`` if ``role`` may not ``action`` a trigger of this kind."""
    check_visible(role, kind, status)
    kinds = ACTIONS[role].get(action, frozenset())
    if kind not in kinds:
        may = f"only {_names(kinds)} ones" if kinds else "none"
        raise Refused(f"the {role.value} role may not {action.value} {kind.value} triggers ({may})")


WITHHELD_REASONS: dict[str, str] = {
    "service_reminder": "Remind: a service or a warranty falls due",
    "complaint_escalation": "Escalate: a complaint is still open after its SLA",
    "survey_follow_up": "Call back: the customer rated us low",
    "cross_sell": "Offer a category that goes with a purchase",
    "re_engagement": "Offer a category the customer showed interest in",
    "vip": "A customer's lifetime spend crossed a threshold",
    "lapse_risk": "A regular customer has gone quiet",
}
"""What a trigger is for, without the facts that raised it: a reason is built from
service-tier facts (ratings, NPS, complaints, purchases, spend), like a timeline summary."""
WITHHELD_NOTE = " (why is service tier: reveal=service with a reason)"


def reasons_readable(role: Role, reveal: Tier | None) -> bool:
    """May this role read what raised a trigger (its ``reason``)? Agents with a reveal of
    the service tier; managers always; marketing, for the offers it works."""
    if role is Role.MARKETING:
        return True
    return Tier.SERVICE in readable_tiers(role, reveal)


def shown_reason(rule_type: str, reason: str, readable: bool) -> str:
    """The reason itself, or what the trigger is for when the caller may not read it."""
    if readable:
        return reason
    return WITHHELD_REASONS.get(rule_type, "A rule raised this trigger") + WITHHELD_NOTE
