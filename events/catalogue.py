"""The registry of touchpoint types, discriminated on ``type``, and their versions."""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import Field, TypeAdapter

from events.touchpoints import FAMILIES, SUPERSEDED, Touchpoint
from events.upcasting import missing_upcasters

EVENT_TYPES: dict[str, type[Touchpoint]] = {
    cls.type_name(): cls for types in FAMILIES.values() for cls in types
}
"""Every current type by name, in catalogue order."""

FAMILY_OF: dict[str, str] = {
    cls.type_name(): family for family, types in FAMILIES.items() for cls in types
}


def versions_of(type_name: str) -> dict[int, type[Touchpoint]]:
    """Every version of a type, oldest first, the current one included."""
    current = EVENT_TYPES[type_name]
    found = {cls.current_version: cls for cls in SUPERSEDED if cls.type_name() == type_name}
    found[current.current_version] = current
    return dict(sorted(found.items()))


def _check_history() -> None:
    missing = missing_upcasters({name: cls.current_version for name, cls in EVENT_TYPES.items()})
    if missing:
        raise RuntimeError(f"old versions that cannot be read: {', '.join(missing)}")


_check_history()

# The union is built from the registry, which mypy cannot follow: hence Any.
_ANY_TOUCHPOINT: Any = Union[tuple(EVENT_TYPES.values())]  # noqa: UP007
AnyTouchpoint: Any = Annotated[_ANY_TOUCHPOINT, Field(discriminator="type")]

TOUCHPOINT_ADAPTER: TypeAdapter[Touchpoint] = TypeAdapter(AnyTouchpoint)
