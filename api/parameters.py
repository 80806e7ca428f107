"""What the read side accepts in a path or a query, declared once: every value is bounded
before it reaches SQL or datetime arithmetic, and the bounds are in the OpenAPI.

- Text is what PostgreSQL can store (no NUL) and has a maximum length; a path segment
  cannot hold a ``/`` either (it would name another route).
- A moment has a timezone offset and lies between 1900 and 2200, so that neither
  converting it to UTC nor a day's arithmetic on it leaves Python's date range.
- A row id fits PostgreSQL's ``bigint``.

A value outside these is a 422 that names the parameter and the rule it broke.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from annotated_types import MaxLen
from fastapi import Path, Query
from pydantic import AwareDatetime, Field, StringConstraints

STORABLE = r"^[^\x00]*$"
"""Any text but NUL, the one character a PostgreSQL ``text`` cannot hold."""
SEGMENT = r"^[^\x00/]+$"

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
BIGINT_MAX = 2**63 - 1

Storable = Annotated[str, StringConstraints(pattern=STORABLE)]
"""Text PostgreSQL can store; bound its length where it is used (``Query(max_length=…)``)."""

Moment = Annotated[AwareDatetime, Field(ge=EARLIEST, lt=LATEST)]
MOMENTS = "ISO 8601 with a timezone offset, from 1900-01-01 up to 2200-01-01 (UTC)"

Segment = Annotated[str, StringConstraints(min_length=1, max_length=320, pattern=SEGMENT)]
"""A path segment: a customer id, an identifier, a trigger id."""
CustomerKey = Annotated[
    Segment, Path(description="A customer id (a merged one leads to its survivor).")
]
SubjectKey = Annotated[
    Segment,
    Path(
        description="A customer id (a merged one leads to its survivor) or an identifier "
        "naming one customer: email:…, phone:<any written form>, external_id:TYPE:ID, "
        "anonymous_id:…."
    ),
]
TriggerId = Annotated[Segment, Path(description="A trigger's id.")]

Identifier = Annotated[Storable, StringConstraints(min_length=1, max_length=320)]
"""A phone, an email, an external id, as written."""
Name = Annotated[Storable, StringConstraints(min_length=1, max_length=100)]
Names = Annotated[list[Name] | None, MaxLen(50)]
"""A repeatable filter (``?type=a&type=b``): up to 50 names of up to 100 characters."""

PageCursor = Annotated[Storable | None, Query(max_length=1000, description="From a previous page.")]
Reason = Annotated[
    Storable | None,
    Query(min_length=3, max_length=500, description="Why: recorded in the access audit."),
]
RowId = Annotated[int | None, Query(ge=1, le=BIGINT_MAX)]
