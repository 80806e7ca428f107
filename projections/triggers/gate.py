"""Whether a marketing trigger may go out: no open complaint, consent, the frequency cap.

A trigger that may not is still decided, as *suppressed* with the reason; one that
may gets the first usable channel (the suggested one, else the customer's preferred
one, else the first consented one) and counts towards that channel's cap.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from projections.triggers.model import Suppression, Trigger
from projections.triggers.rules import TriggerRules
from projections.triggers.state import CustomerState

# Channels a marketing message can go out on, in the order we try them.
MESSAGE_CHANNELS = ("email", "sms", "mail", "app", "phone")


def gate(
    rules: TriggerRules, state: CustomerState, trigger: Trigger
) -> tuple[CustomerState, Trigger]:
    """The trigger as it goes out, or suppressed; the state counts what goes out."""
    at = trigger.created_at
    if state.complaints:
        cases = ", ".join(state.open_complaints())
        return state, trigger.suppress(Suppression.OPEN_COMPLAINT, f"open complaint(s): {cases}")
    wanted = [trigger.channel] if trigger.channel else _preference(state)
    refused: list[str] = []
    for channel in wanted:
        status = _consent(state, rules.consent_purpose, channel, at)
        if channel not in state.reachable:
            refused.append(f"{channel}: no contact details")
        elif status != "granted":
            refused.append(f"{channel}: {status}")
        else:
            return _cap(rules, state, trigger.model_copy(update={"channel": channel}), at)
    return state, trigger.suppress(
        Suppression.NO_CONSENT,
        f"no '{rules.consent_purpose}' consent on a usable channel ({'; '.join(refused)})",
    )


def _cap(
    rules: TriggerRules, state: CustomerState, trigger: Trigger, at: datetime
) -> tuple[CustomerState, Trigger]:
    cap = rules.frequency_cap
    channel = trigger.channel or ""
    window = at - timedelta(days=cap.per_days)
    recent = tuple(t for t in state.sent.get(channel, ()) if t > window)
    if len(recent) >= cap.max:
        return state, trigger.suppress(
            Suppression.FREQUENCY_CAP,
            f"{len(recent)} marketing triggers on {channel} in the last {cap.per_days} days "
            f"(cap {cap.max})",
        )
    return state.evolve(sent={**state.sent, channel: (*recent, at)}), trigger


def _preference(state: CustomerState) -> list[str]:
    preferred = [state.preferred_channel] if state.preferred_channel in MESSAGE_CHANNELS else []
    return preferred + [c for c in MESSAGE_CHANNELS if c not in preferred]


def _consent(state: CustomerState, purpose: str, channel: str, at: datetime) -> str:
    """The status that applies: the newer of the channel's own and the all-channel one."""
    options = [
        c
        for c in (state.consents.get(f"{purpose}|{channel}"), state.consents.get(f"{purpose}|*"))
        if c is not None
    ]
    if not options:
        return "no consent recorded"
    newest = max(options, key=lambda c: c.at)
    if newest.status == "granted" and newest.expires_at is not None and newest.expires_at <= at:
        return "consent expired"
    return newest.status
