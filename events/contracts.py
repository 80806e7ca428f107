"""The JSON Schema contracts in ``schemas/``: the envelope, every type and version, an index.

Channel systems in other languages code against these files, so they are generated
from the models and checked in. ``check`` holds them to two rules: every file matches
the models, and a published version only ever changes in backward-compatible ways
(``events.compatibility``); anything else needs a new version and an upcaster.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from events.catalogue import EVENT_TYPES, FAMILY_OF, versions_of
from events.compatibility import breaking_changes
from events.corrections import excused
from events.envelope import Envelope, Model
from events.rules import EVERY_TYPE, ContractRule
from events.sensitivity import (
    PERSONAL_KEY,
    SCHEMA_KEY,
    SEALED_KEY,
    SEALED_PATTERN,
    is_personal,
    service,
)
from events.touchpoints import Touchpoint

DIALECT = "https://json-schema.org/draft/2020-12/schema"
INDEX = "index.json"
ENVELOPE = "envelope.json"


class EnvelopeContract(Envelope):
    """Any touchpoint: the envelope. Each type's own schema describes its payload."""

    model_config = ConfigDict(
        title="touchlog event envelope",
        json_schema_extra={
            "required": ["type", "schema_version", "occurred_at", "source", "subject", "payload"]
        },
    )

    type: str = service(
        pattern=r"^[a-z_]+\.[a-z_]+$", description="'<object>.<action>', e.g. 'call.logged'."
    )
    payload: dict[str, Any] = Field(description="The typed body; see the type's schema.")


class ContractSchema(GenerateJsonSchema):
    """pydantic's JSON Schema, with dictionary keys said the way the models check them.

    pydantic writes a key's pattern as ``patternProperties``, which lets a key that does
    not match through with any value; the models refuse such a key.
    """

    def dict_schema(self, schema: core_schema.DictSchema) -> JsonSchemaValue:
        generated = super().dict_schema(schema)
        by_pattern = generated.pop("patternProperties", None)
        if isinstance(by_pattern, dict) and len(by_pattern) == 1:
            ((pattern, values),) = by_pattern.items()
            generated["additionalProperties"] = values
            generated["propertyNames"] = {**generated.get("propertyNames", {}), "pattern": pattern}
        elif by_pattern is not None:
            generated["patternProperties"] = by_pattern
        return generated


def schema_path(type_name: str, version: int) -> str:
    return f"{type_name}/v{version}.json"


def envelope_schema() -> dict[str, Any]:
    generated = EnvelopeContract.model_json_schema(
        mode="validation", schema_generator=ContractSchema
    )
    generated.setdefault("$defs", {})[SEALED_DEF] = SEALED_SCHEMA
    generated["properties"]["subject"] = _or_sealed(generated["properties"]["subject"])
    return {
        "$schema": DIALECT,
        **generated,
        "x-rules": [rule.as_schema() for rule in EVERY_TYPE],
    }


def type_schema(cls: type[Touchpoint]) -> dict[str, Any]:
    """The contract of one version of one type: the whole event, payload included.

    ``x-rules`` names the rules the JSON Schema cannot express, which the models and
    ``touchlog schemas validate`` enforce.
    """
    generated = cls.model_json_schema(mode="validation", schema_generator=ContractSchema)
    generated.pop("title", None)
    _accept_sealed(cls, generated)
    return {
        "$schema": DIALECT,
        "title": f"{cls.type_name()} v{cls.current_version}",
        "x-type": cls.type_name(),
        "x-version": cls.current_version,
        "x-default-channel": cls.default_channel.value,
        **generated,
        "x-rules": [rule.as_schema() for rule in contract_rules(cls)],
    }


SEALED_DEF = "Sealed"
SEALED_SCHEMA: dict[str, Any] = {
    "type": "string",
    "pattern": SEALED_PATTERN,
    SEALED_KEY: True,
    "description": "A personal field sealed with the data subject's key (docs/PRIVACY.md, "
    "'Crypto-shredding'): 'tlx1.<key id>.<base64url(nonce + AES-256-GCM ciphertext)>'.",
}
_META = ("title", "description", "default", "examples", SCHEMA_KEY, PERSONAL_KEY)


def _accept_sealed(cls: type[Touchpoint], generated: dict[str, Any]) -> None:
    """Each personal field (the ``subject``, and the payload's personal fields) accepts a
    sealed value in its place: an ``anyOf`` with ``$defs/Sealed``. Backward compatible:
    every value valid before still is."""
    generated.setdefault("$defs", {})[SEALED_DEF] = SEALED_SCHEMA
    properties = generated["properties"]
    properties["subject"] = _or_sealed(properties["subject"])
    payload = cls.model_fields["payload"].annotation
    ref = properties["payload"].get("$ref", "")
    if not (isinstance(payload, type) and issubclass(payload, BaseModel)):
        return
    target = generated["$defs"].get(ref.removeprefix("#/$defs/"), {}) if ref else {}
    fields = target.get("properties", {})
    for name, field in payload.model_fields.items():
        if is_personal(field) and name in fields:
            fields[name] = _or_sealed(fields[name])


def _or_sealed(node: dict[str, Any]) -> dict[str, Any]:
    meta = {key: node[key] for key in _META if key in node}
    rest = {key: value for key, value in node.items() if key not in meta}
    sealed = {"$ref": f"#/$defs/{SEALED_DEF}"}
    if set(rest) == {"anyOf"}:
        return {"anyOf": [*rest["anyOf"], sealed], **meta}
    return {"anyOf": [rest, sealed], **meta}


def contract_rules(cls: type[Touchpoint]) -> list[ContractRule]:
    """Every type's rules, then those of the models the type holds, each once."""
    found = list(EVERY_TYPE)
    for model in _models_in(cls, set()):
        found.extend(rule for rule in model.contract_rules if rule not in found)
    return found


def _models_in(model: type[BaseModel], seen: set[type[BaseModel]]) -> Iterator[type[Model]]:
    if model in seen:
        return
    seen.add(model)
    if issubclass(model, Model):
        yield model
    for field in model.model_fields.values():
        for nested in _model_types(field.annotation):
            yield from _models_in(nested, seen)


def _model_types(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    for arg in get_args(annotation):
        yield from _model_types(arg)


def index() -> dict[str, Any]:
    types: dict[str, Any] = {}
    for name, cls in EVENT_TYPES.items():
        types[name] = {
            "family": FAMILY_OF[name],
            "current_version": cls.current_version,
            "default_channel": cls.default_channel.value,
            "description": (cls.__doc__ or "").strip().splitlines()[0],
            "versions": {str(v): schema_path(name, v) for v in versions_of(name)},
        }
    return {
        "$comment": "Generated from events/ by `touchlog schemas generate`; do not edit.",
        "envelope": ENVELOPE,
        "types": types,
    }


def generate() -> dict[str, dict[str, Any]]:
    """Every contract file, by path relative to ``schemas/``."""
    return copy.deepcopy(_generated())


@cache
def _generated() -> dict[str, dict[str, Any]]:
    # The models are fixed once imported, and generating takes a while: once is enough.
    files = {INDEX: index(), ENVELOPE: envelope_schema()}
    for name in EVENT_TYPES:
        for version, cls in versions_of(name).items():
            files[schema_path(name, version)] = type_schema(cls)
    return files


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


@dataclass(frozen=True, slots=True)
class ContractProblem:
    file: str
    problem: str
    breaking: bool = False

    def __str__(self) -> str:
        return f"{self.file}: {self.problem}"


def check(root: Path) -> list[ContractProblem]:
    """How the contracts under ``root`` differ from the models; empty when they agree."""
    files = generate()
    problems = breaking(root, files)
    for relative, document in files.items():
        path = root / relative
        if not path.is_file():
            problems.append(ContractProblem(relative, "missing; run `touchlog schemas generate`"))
        elif json.loads(path.read_text(encoding="utf-8")) != document:
            problems.append(
                ContractProblem(relative, "out of date; run `touchlog schemas generate`")
            )
    for path in sorted(root.rglob("*.json")):
        relative = path.relative_to(root).as_posix()
        if relative not in files:
            problems.append(
                ContractProblem(relative, "published, but no model generates it any more", True)
            )
    return problems


def breaking(root: Path, files: dict[str, dict[str, Any]] | None = None) -> list[ContractProblem]:
    """Backward-incompatible changes of the models against the contracts under ``root``."""
    problems: list[ContractProblem] = []
    for relative, document in (files or generate()).items():
        path = root / relative
        if relative == INDEX or not path.is_file():
            continue
        published = json.loads(path.read_text(encoding="utf-8"))
        problems.extend(
            ContractProblem(relative, f"{change} (publish a new version instead)", True)
            for change in breaking_changes(published, document)
            if not excused(change)
        )
    return problems


def write(root: Path, *, allow_breaking: bool = False) -> list[Path]:
    """Write every contract under ``root``; returns the files that changed.

    Refuses (``ValueError``) to overwrite a published version incompatibly unless
    ``allow_breaking``: that is what a new version and an upcaster are for.
    """
    files = generate()
    if not allow_breaking and (problems := breaking(root, files)):
        raise ValueError("incompatible changes:\n" + "\n".join(str(p) for p in problems))
    changed = []
    for relative, document in files.items():
        path = root / relative
        text = render(document)
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        changed.append(path)
    return changed
