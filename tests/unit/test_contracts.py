"""The checked-in contracts in schemas/ match the models and only evolve compatibly."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from events import EVENT_TYPES, contracts, encode
from events.compatibility import breaking_changes
from producers.demo import demo_events

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def _published(relative: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((SCHEMAS / relative).read_text())
    return document


def test_the_checked_in_contracts_are_the_generated_ones() -> None:
    assert [str(problem) for problem in contracts.check(SCHEMAS)] == []


def test_the_index_lists_every_type_and_version() -> None:
    index = _published("index.json")

    assert list(index["types"]) == list(EVENT_TYPES)
    assert index["types"]["call.logged"]["versions"] == {
        "1": "call.logged/v1.json",
        "2": "call.logged/v2.json",
    }
    for entry in index["types"].values():
        for relative in entry["versions"].values():
            assert (SCHEMAS / relative).is_file()


def test_demo_events_satisfy_their_contract_and_the_envelope() -> None:
    envelope = jsonschema.Draft202012Validator(_published("envelope.json"))
    validators = {
        name: jsonschema.Draft202012Validator(
            _published(contracts.schema_path(name, cls.current_version))
        )
        for name, cls in EVENT_TYPES.items()
    }
    for event in demo_events(25, seed=11):
        document = json.loads(encode(event))
        validators[event.type].validate(document)
        envelope.validate(document)


@pytest.fixture
def published_copy(tmp_path: Path) -> Path:
    root = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, root)
    return root


def _tamper(root: Path, relative: str, change: Any) -> None:
    path = root / relative
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


def _publish_extra_field(document: dict[str, Any]) -> None:
    # As if the published version had a field that the model has since dropped.
    document["$defs"]["PurchaseCompletedPayload"]["properties"]["loyalty_card"] = {"type": "string"}


def test_check_fails_when_a_model_breaks_a_published_version(published_copy: Path) -> None:
    _tamper(published_copy, "purchase.completed/v1.json", _publish_extra_field)

    problems = contracts.check(published_copy)

    assert [(p.file, p.breaking) for p in problems if "removed" in p.problem] == [
        ("purchase.completed/v1.json", True)
    ]
    assert "payload.lines" not in str(problems)
    assert "payload.loyalty_card: field removed" in str(problems[0])


def test_generate_refuses_to_overwrite_a_published_version_incompatibly(
    published_copy: Path,
) -> None:
    _tamper(published_copy, "purchase.completed/v1.json", _publish_extra_field)

    with pytest.raises(ValueError, match="loyalty_card: field removed"):
        contracts.write(published_copy)

    assert contracts.write(published_copy, allow_breaking=True) == [
        published_copy / "purchase.completed/v1.json"
    ]
    assert contracts.check(published_copy) == []


def test_check_reports_stale_missing_and_orphaned_files(published_copy: Path) -> None:
    (published_copy / "sms.sent" / "v1.json").unlink()
    _tamper(published_copy, "index.json", lambda doc: doc.update({"$comment": "edited by hand"}))
    (published_copy / "call.logged" / "v0.json").write_text("{}")

    problems = {p.file: p.problem for p in contracts.check(published_copy)}

    assert problems["sms.sent/v1.json"].startswith("missing")
    assert problems["index.json"].startswith("out of date")
    assert problems["call.logged/v0.json"] == "published, but no model generates it any more"


# --- the compatibility rules ------------------------------------------------------------------

BASE = _published("call.logged/v2.json")


def _changed(change: Any) -> dict[str, Any]:
    document = copy.deepcopy(BASE)
    change(document, document["$defs"]["CallLoggedPayload"])
    return document


INCOMPATIBLE = {
    "field removed": lambda doc, p: p["properties"].pop("agent_id"),
    "new required field without a default": lambda doc, p: (
        p["properties"].update(queue={"type": "string"}),
        p["required"].append("queue"),
    ),
    "field became required": lambda doc, p: p["required"].append("agent_id"),
    "type narrowed": lambda doc, p: p["properties"]["duration_seconds"].update(type="string"),
    "null no longer accepted": lambda doc, p: p["properties"].update(agent_id={"type": "string"}),
    "values no longer accepted": lambda doc, p: doc["$defs"]["CallDirection"]["enum"].remove(
        "outbound"
    ),
    "maximum tightened": lambda doc, p: p["properties"]["duration_seconds"].update(maximum=3600),
    "maxLength tightened": lambda doc, p: p["properties"]["notes"]["anyOf"][0].update(maxLength=10),
    "pattern changed": lambda doc, p: doc["$defs"]["Subject"]["properties"]["phone"]["anyOf"][
        0
    ].update(pattern="^0"),
    "extra fields no longer accepted": lambda doc, p: doc["$defs"]["Campaign"].pop(
        "additionalProperties"
    ),
}

COMPATIBLE = {
    "optional field added": lambda doc, p: p["properties"].update(queue={"type": "string"}),
    "required field made optional": lambda doc, p: p["required"].remove("outcome"),
    "value added": lambda doc, p: doc["$defs"]["CallDirection"]["enum"].append("internal"),
    "integer widened to number": lambda doc, p: p["properties"]["duration_seconds"].update(
        type="number"
    ),
    "bound loosened": lambda doc, p: p["properties"]["duration_seconds"].update(maximum=10**6),
    "made nullable": lambda doc, p: p["properties"].update(
        reason={"anyOf": [p["properties"]["reason"], {"type": "null"}]}
    ),
    "description reworded": lambda doc, p: p["properties"]["reason"].update(description="Why."),
}


@pytest.mark.parametrize("change", sorted(INCOMPATIBLE))
def test_an_incompatible_change_is_caught(change: str) -> None:
    # The deliberately incompatible "new" schema is compared with the published one;
    # "extra fields" is the reverse: the published schema refused them, the new one must too.
    old, new = BASE, _changed(INCOMPATIBLE[change])
    if change == "extra fields no longer accepted":
        old, new = new, old

    found = breaking_changes(old, new)

    assert found, change
    keyword = change.split()[0] if change != "null no longer accepted" else "null"
    assert any(keyword in str(problem) for problem in found), [str(p) for p in found]


@pytest.mark.parametrize("change", sorted(COMPATIBLE))
def test_a_compatible_change_passes(change: str) -> None:
    assert breaking_changes(BASE, _changed(COMPATIBLE[change])) == []


def test_paths_name_the_field_in_the_event() -> None:
    found = breaking_changes(BASE, _changed(INCOMPATIBLE["field removed"]))

    assert [str(problem) for problem in found] == ["payload.agent_id: field removed"]
