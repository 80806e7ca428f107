"""Reading old versions of an event type as the current one.

An upcaster turns the JSON document of version N of a type into version N + 1. They
run before validation, on the document as stored, so an event written years ago is
validated and handled exactly like one written today; the log itself is never
rewritten. Each type's module registers the steps of its own history.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Document = dict[str, Any]
Upcaster = Callable[[Document], Document]

_STEPS: dict[tuple[str, int], Upcaster] = {}


def upcaster(type_name: str, *, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register ``step`` as turning ``type_name`` v``from_version`` into the next version.

    The step gets a copy of the whole event document (envelope and payload) and
    returns the new one; it must not change nested values in place.
    """

    def register(step: Upcaster) -> Upcaster:
        key = (type_name, from_version)
        if key in _STEPS:
            raise ValueError(f"two upcasters registered for {type_name} v{from_version}")
        _STEPS[key] = step
        return step

    return register


def upcast(document: Mapping[str, Any], type_name: str, to_version: int) -> Document:
    """``document`` as version ``to_version``; an absent ``schema_version`` means current.

    A malformed, newer or already current version is passed through untouched, for
    validation to report precisely.
    """
    doc = dict(document)
    version = doc.setdefault("schema_version", to_version)
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version < to_version:
        return doc
    while version < to_version:
        step = _STEPS.get((type_name, version))
        if step is None:
            raise ValueError(f"cannot read {type_name} v{version}: no upcaster to v{version + 1}")
        doc = step(dict(doc))
        version += 1
        doc["schema_version"] = version
    return doc


def missing_upcasters(current_versions: Mapping[str, int]) -> list[str]:
    """Steps missing for the given ``{type: current version}``; empty when all are there."""
    return [
        f"{type_name} v{version} -> v{version + 1}"
        for type_name, current in current_versions.items()
        for version in range(1, current)
        if (type_name, version) not in _STEPS
    ]
