"""Does a document satisfy its published contract: the JSON Schema and its ``x-rules``?

What ``touchlog schemas validate`` runs, so that a channel system can test its events
against exactly what touchlog enforces before it sends them. Numbers are read as written
(``Decimal``): JSON Schema's ``multipleOf`` is about the number, not a binary float, and
so is the reader. The ``x-rules`` are enforced by the models themselves.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # no stubs in the environment

from events.codec import FieldError, InvalidEvent, from_mapping
from events.contracts import INDEX

_MAX_REASON = 200
_DECIMAL = re.compile(r"Decimal\('([^']*)'\)")


def read_exactly(text: str | bytes) -> Any:
    """JSON with every non-integer number as the ``Decimal`` it was written as."""
    return json.loads(text, parse_float=Decimal)


class Contracts:
    """The published contracts of every type and version, ready to validate against."""

    def __init__(self, index: Mapping[str, Any], schemas: Mapping[str, Any]) -> None:
        self._types: Mapping[str, Any] = index["types"]
        self._schemas = schemas
        self._validators: dict[str, Any] = {}

    @classmethod
    def load(cls, root: Path) -> Contracts:
        """The contracts under ``root`` (``schemas/``), numbers read exactly."""
        index = json.loads((root / INDEX).read_text(encoding="utf-8"))
        schemas = {
            relative: read_exactly((root / relative).read_text(encoding="utf-8"))
            for entry in index["types"].values()
            for relative in entry["versions"].values()
        }
        return cls(index, schemas)

    def schema_of(self, document: Mapping[str, Any]) -> str | None:
        """The contract ``document`` claims to follow, by type and version; None if none."""
        entry = self._types.get(document.get("type"))  # type: ignore[arg-type]
        if entry is None:
            return None
        version = document.get("schema_version", entry["current_version"])
        relative: str | None = entry["versions"].get(str(version))
        return relative

    def errors(self, document: Any) -> list[FieldError]:
        """Why ``document`` (read with ``read_exactly``) breaks its contract; empty if not.

        The JSON Schema first, then the rules it cannot express, by the models. A document
        with no contract (no or an unknown type, an unpublished version) is judged by the
        models alone, whose errors say what is wrong.
        """
        found = self.schema_errors(document)
        try:
            from_mapping(_as_floats(document))
        except InvalidEvent as exc:
            # Both say something: the schema which keyword, the model in its own words.
            found.extend(exc.errors)
        return found

    def schema_errors(self, document: Any) -> list[FieldError]:
        """Why ``document`` breaks its contract's JSON Schema, the x-rules aside."""
        relative = self.schema_of(document) if isinstance(document, Mapping) else None
        if relative is None:
            return []
        return [
            FieldError(_path(error.absolute_path), _short(error.message), None)
            for error in self._validator(relative).iter_errors(document)
        ]

    def _validator(self, relative: str) -> Any:
        if relative not in self._validators:
            schema = self._schemas[relative]
            self._validators[relative] = jsonschema.validators.validator_for(schema)(schema)
        return self._validators[relative]


def _as_floats(document: Any) -> Any:
    """The document as ``json.loads`` reads it, which is how ``touchlog publish`` reads it."""
    return json.loads(json.dumps(document, default=float))


def _path(parts: Any) -> str:
    return ".".join(str(part) for part in parts) or "(event)"


def _short(text: str) -> str:
    text = _DECIMAL.sub(r"\1", text)
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 3] + "..."
