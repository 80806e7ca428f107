"""What the resolver's helper process hands back for each record (pure, no services)."""

from __future__ import annotations

import pickle

from consumers.arrivals import Arrival, arrivals, arrivals_in_helper
from events import InvalidEvent, decode, encode, from_mapping
from projections.identity import IdentityRules
from projections.identity.identifiers import Identifier, IdentifierKind
from tests.factories import event_dict


def _record(**subject: object) -> bytes:
    data = event_dict(message_id="m-1")
    data["subject"] = subject
    data["correlation_id"] = "corr-1"
    return encode(from_mapping(data))


def test_an_arrival_carries_the_envelope_the_identifiers_and_the_record_as_read() -> None:
    value = _record(email=" Ann@X.com", phone="06 28 23 04 55")
    (arrival,) = arrivals(IdentityRules(), [value])
    assert isinstance(arrival, Arrival)
    event = from_mapping(event_dict(message_id="m-1"))
    assert arrival.ref.message_id == "m-1"
    assert arrival.ref.source_system == event.source.system
    assert arrival.ref.occurred_at == event.occurred_at
    assert arrival.business_unit == event.source.business_unit
    assert arrival.correlation_id == "corr-1"
    assert arrival.value == encode(decode(value))  # in clear: forwarded in canonical form
    assert arrival.decision is None
    identifiers, rejected = arrival.identified
    assert identifiers == [
        Identifier(IdentifierKind.EMAIL, "ann@x.com"),
        Identifier(IdentifierKind.PHONE, "+33628230455"),
    ]
    assert rejected == []


def test_a_bad_record_is_reported_in_its_place_and_the_others_parsed() -> None:
    good = _record(email="ann@x.com")
    outcomes = arrivals(IdentityRules(), [good, b'{"type": "call.logged"}', None, good])
    assert isinstance(outcomes[0], Arrival)
    assert isinstance(outcomes[3], Arrival)
    assert isinstance(outcomes[1], InvalidEvent)
    assert "occurred_at" in str(outcomes[1])
    assert isinstance(outcomes[2], InvalidEvent)
    assert "empty record" in str(outcomes[2])


def test_arrivals_and_errors_cross_processes_unchanged() -> None:
    values = [_record(email="ann@x.com", phone="0000-0000"), b"{not json"]
    outcomes = arrivals(IdentityRules(), values)
    copied = pickle.loads(pickle.dumps(outcomes))  # noqa: S301  # our own bytes
    assert copied[0] == outcomes[0]
    assert copied[0].identified[1][0].reason.startswith("blocklisted")
    assert isinstance(copied[1], InvalidEvent)
    assert copied[1].errors == outcomes[1].errors


def test_the_helper_applies_the_rules_it_is_given() -> None:
    rules = IdentityRules(shared_numbers=["+33140000000"])
    value = _record(phone="01 40 00 00 00", email="ann@x.com")
    (in_helper,) = arrivals_in_helper(rules.model_dump_json(), [value])
    assert in_helper == arrivals(rules, [value])[0]
    assert isinstance(in_helper, Arrival)
    assert [r.reason for r in in_helper.identified[1]] == [
        "shared number +33140000000 (e.g. a switchboard)"
    ]
