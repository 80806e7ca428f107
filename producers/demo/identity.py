"""The demo's identity graph: links the resolver makes, and mistakes people put right."""

from __future__ import annotations

from datetime import timedelta

from events import Subject, Touchpoint
from events import touchpoints as t
from events.touchpoints.identity import CustomerMergeRejected, CustomerMergeRejectedPayload
from producers.demo.story import Story

RULES = {
    t.IdentifierType.EMAIL: "verified email",
    t.IdentifierType.PHONE: "phone number on file",
    t.IdentifierType.EXTERNAL_ID: "customer number on file",
    t.IdentifierType.ANONYMOUS_ID: "signed in on this device",
}
RESOLVER = "identity-resolver"
SIGN_UP = "customer-portal"


def identifiers_of(subject: Subject) -> list[t.Identifier]:
    """The identifiers a channel sent besides any customer_id."""
    found = []
    if subject.email:
        found.append(t.Identifier(type=t.IdentifierType.EMAIL, value=subject.email.lower()))
    if subject.phone:
        found.append(t.Identifier(type=t.IdentifierType.PHONE, value=subject.phone))
    found += [
        t.Identifier(type=t.IdentifierType.EXTERNAL_ID, value=ext.id, namespace=ext.type)
        for ext in subject.external_ids
    ]
    if subject.anonymous_id:
        found.append(
            t.Identifier(type=t.IdentifierType.ANONYMOUS_ID, value=str(subject.anonymous_id))
        )
    return found


def link_identifiers(story: Story) -> None:
    """Each identifier is first seen with the customer's id (a signed-in visit, a card
    swiped at a till that asks for the account) and linked by the resolver just after.

    Later events may carry the identifier alone: it then resolves to the customer. An
    identifier first seen alone would make a customer of its own, a fragment the demo's
    duplicates are not meant to be."""
    introduced: set[t.Identifier] = set()
    first_seen: dict[t.Identifier, Touchpoint] = {}
    for index, event in sorted(enumerate(story.events), key=lambda e: e[1].occurred_at):
        subject = event.subject
        new = [i for i in identifiers_of(subject) if i not in introduced]
        if new and not subject.customer_id:
            known = subject.model_copy(update={"customer_id": story.customer.customer_id})
            event = story.events[index] = event.model_copy(update={"subject": known})
        if event.subject.customer_id == story.customer.customer_id:
            for identifier in new:
                first_seen.setdefault(identifier, event)
        introduced.update(new)
    linked = {e.payload.identifier for e in story.events if isinstance(e, t.IdentityLinked)}
    for identifier, event in first_seen.items():
        # The account's own details, given at sign-up, are not something the resolver linked.
        if identifier not in linked and event.source.system != SIGN_UP:
            _link(story, identifier, event)


def _link(story: Story, identifier: t.Identifier, cause: Touchpoint) -> t.IdentityLinked:
    exact = identifier.type is not t.IdentifierType.ANONYMOUS_ID
    payload = t.IdentityLinkedPayload(
        customer_id=story.customer.customer_id,
        identifier=identifier,
        rule=RULES[identifier.type],
        confidence=t.MatchConfidence.EXACT if exact else t.MatchConfidence.PROBABLE,
    )
    at = cause.occurred_at + timedelta(seconds=2)
    return story.emit(
        t.IdentityLinked,
        payload,
        at=at,
        subject=_own(story),
        after=cause,
        unit="group",
        system=RESOLVER,
    )


def _own(story: Story) -> Subject:
    return Subject(customer_id=story.customer.customer_id)


def wrong_link_undone(story: Story) -> None:
    """A call from a shared landline got it linked to this customer; a rep unlinks it."""
    rng = story.rng
    landline = f"+44207946{rng.randint(0, 999):04d}"
    call = story.emit(
        t.CallLogged,
        t.CallLoggedPayload(
            direction=t.CallDirection.INBOUND,
            dialled_number="+448081570000",
            duration_seconds=rng.randint(60, 400),
            reason="order status",
            outcome="caller was not the account holder",
        ),
        at=story.moment(),
        unit="retail",
        # The agent opened this customer's account from the caller's number.
        subject=Subject(customer_id=story.customer.customer_id, phone=landline),
    )
    identifier = t.Identifier(type=t.IdentifierType.PHONE, value=landline)
    linked = _link(story, identifier, call)
    payload = t.IdentityUnlinkedPayload(
        customer_id=story.customer.customer_id,
        identifier=identifier,
        reason="Family landline: the caller was the customer's father.",
        unlinked_by="agent-12",
    )
    at = story.moment(linked.occurred_at, timedelta(days=20))
    story.emit(
        t.IdentityUnlinked,
        payload,
        at=at,
        subject=_own(story),
        after=linked,
        unit="group",
        system=RESOLVER,
    )


def duplicate_merged(story: Story, email: str | None = None, series: int = 9) -> t.CustomerMerged:
    """A second record made at the box office turns out to be the same person.

    The box office's own record comes first (a call under its customer number, with
    ``email`` when given), so the resolver knows the customer a person then merges."""
    duplicate = f"C-{series}{story.customer.number:05d}"
    rng = story.rng
    first_call = story.emit(
        t.CallLogged,
        t.CallLoggedPayload(
            direction=t.CallDirection.INBOUND,
            dialled_number="+442079460000",
            duration_seconds=rng.randint(60, 400),
            reason="ticket collection",
            outcome="tickets held at the box office",
        ),
        at=story.moment(),
        unit="theatre",
        subject=Subject(customer_id=duplicate, email=email),
    )
    payload = t.CustomerMergedPayload(
        surviving_customer_id=story.customer.customer_id,
        merged_customer_ids=(duplicate,),
        reason="Same name, email and postal address.",
        merged_by="identity-resolver",
    )
    return story.emit(
        t.CustomerMerged,
        payload,
        at=story.moment(first_call.occurred_at, timedelta(days=60)),
        subject=_own(story),
        unit="group",
        system=RESOLVER,
    )


def wrong_merge_split(story: Story) -> None:
    """A merge of two namesakes is undone: the other person's email moves back."""
    namesake = f"namesake{story.customer.number}@example.net"
    merge = duplicate_merged(story, email=namesake, series=8)  # not the box office's duplicate
    other = t.Identifier(type=t.IdentifierType.EMAIL, value=namesake)
    payload = t.CustomerSplitPayload(
        original_customer_id=story.customer.customer_id,
        new_customer_id=merge.payload.merged_customer_ids[0],
        identifiers_moved=(other,),
        reason="Two people with the same name; different dates of birth.",
        split_by="agent-3",
        reverses_merge=merge.message_id,
    )
    at = story.moment(merge.occurred_at, timedelta(days=14))
    story.emit(
        t.CustomerSplit,
        payload,
        at=at,
        subject=_own(story),
        after=merge,
        unit="group",
        system=RESOLVER,
    )


def namesake_kept_apart(story: Story) -> None:
    """A namesake at the same postcode, suspected to be a duplicate: a person decides they
    are two people (so neither is suspected again)."""
    namesake = f"C-7{story.customer.number:05d}"
    call = story.emit(
        t.CallLogged,
        t.CallLoggedPayload(
            direction=t.CallDirection.INBOUND,
            dialled_number="+442079460000",
            duration_seconds=story.rng.randint(60, 400),
            reason="ticket collection",
            outcome="tickets held at the box office",
        ),
        at=story.moment(),
        unit="theatre",
        subject=Subject(customer_id=namesake),
    )
    payload = CustomerMergeRejectedPayload(
        customer_id=story.customer.customer_id,
        other_customer_id=namesake,
        reason="Same name and postcode: father and son.",
        rejected_by="agent-7",
    )
    story.emit(
        CustomerMergeRejected,
        payload,
        at=story.moment(call.occurred_at, timedelta(days=30)),
        subject=_own(story),
        after=call,
        unit="group",
        system=RESOLVER,
    )
