"""The registry of touchpoint types, discriminated on ``type``."""

from __future__ import annotations

from typing import Annotated, Union

from pydantic import Field, TypeAdapter

from events.touchpoints import (
    CallLogged,
    ComplaintOpened,
    ComplaintResolved,
    EmailReceived,
    EmailSent,
    PurchaseCompleted,
    Touchpoint,
    WebFormSubmitted,
)

EVENT_TYPES: dict[str, type[Touchpoint]] = {
    cls.model_fields["type"].default: cls
    for cls in (
        WebFormSubmitted,
        CallLogged,
        EmailReceived,
        EmailSent,
        ComplaintOpened,
        ComplaintResolved,
        PurchaseCompleted,
    )
}

AnyTouchpoint = Annotated[
    Union[tuple(EVENT_TYPES.values())],  # type: ignore[valid-type]  # noqa: UP007
    Field(discriminator="type"),
]

TOUCHPOINT_ADAPTER: TypeAdapter[Touchpoint] = TypeAdapter(AnyTouchpoint)
