"""The API's OpenAPI says what the service does: each route documents every status it can
answer, and every parameter carries its bounds (no service needed: the app connects only
when it starts)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import pytest

from api import create_app
from api.parameters import MOMENTS, SEGMENT, STORABLE
from projections.cursor import Cursor, InvalidCursor

SPEC = create_app("postgresql://unused@localhost/none").openapi()
OPERATIONS = {
    (method.upper(), path): operation
    for path, item in SPEC["paths"].items()
    for method, operation in item.items()
}
SIGNED_IN = {"200", "401", "403", "422"}


def _codes(method: str, path: str) -> set[str]:
    return set(OPERATIONS[method, path]["responses"])


def test_every_route_documents_every_status_it_can_answer() -> None:
    expected = {
        ("GET", "/healthz"): {"200", "503"},
        ("GET", "/metrics"): {"200"},
        ("GET", "/status"): {"200", "401", "403", "503"},
        ("GET", "/customers"): SIGNED_IN,
        ("GET", "/lookup"): SIGNED_IN,
        ("GET", "/customers/{customer_id}"): SIGNED_IN | {"404", "307"},
        ("GET", "/customers/{key}/timeline"): SIGNED_IN | {"404", "300"},
        ("GET", "/customers/{customer_id}/profile"): SIGNED_IN | {"404"},
        ("GET", "/customers/{customer_id}/profile/history"): SIGNED_IN | {"404"},
        ("POST", "/customers/{customer_id}/verify"): SIGNED_IN | {"400", "404"},
        ("GET", "/audit/access"): SIGNED_IN,
        ("GET", "/audit/data"): {"200", "401", "403"},
        ("GET", "/analytics/{report}"): SIGNED_IN,
        ("GET", "/triggers"): SIGNED_IN | {"404"},
        ("GET", "/triggers/{trigger_id}"): SIGNED_IN | {"404"},
        ("GET", "/triggers/{trigger_id}/deliveries"): SIGNED_IN | {"404"},
        ("POST", "/triggers/{trigger_id}/acknowledge"): SIGNED_IN | {"400", "404", "409"},
        ("POST", "/triggers/{trigger_id}/close"): SIGNED_IN | {"400", "404", "409"},
        ("GET", "/audiences"): {"200", "401", "403"},
        ("GET", "/audiences/{name}/members"): SIGNED_IN | {"404"},
        ("GET", "/audiences/{name}/members.csv"): SIGNED_IN | {"404"},
        ("GET", "/customers/{customer_id}/next-best-offers"): SIGNED_IN | {"404"},
        ("POST", "/customers/{customer_id}/erasure"): SIGNED_IN | {"400", "404", "409", "503"},
        ("GET", "/customers/{customer_id}/export"): SIGNED_IN | {"404"},
    }
    assert {key: _codes(*key) for key in OPERATIONS} == expected


def _schemas(parameter: dict[str, Any]) -> list[dict[str, Any]]:
    schema = parameter["schema"]
    options = schema.get("anyOf", [schema])
    return [o.get("items", o) for o in options if o.get("type") != "null"]


def test_every_text_parameter_is_storable_and_bounded_every_number_too() -> None:
    unbounded = []
    for (method, path), operation in OPERATIONS.items():
        for parameter in operation.get("parameters", []):
            for schema in _schemas(parameter):
                name = f"{method} {path} {parameter['name']}"
                if schema.get("format") == "date-time":  # bounded by its type: described
                    if MOMENTS not in parameter.get("description", ""):
                        unbounded.append(name)
                elif schema.get("type") == "string" and "enum" not in schema:
                    wanted = SEGMENT if parameter["in"] == "path" else STORABLE
                    if schema.get("pattern") != wanted or "maxLength" not in schema:
                        unbounded.append(name)
                if schema.get("type") == "integer" and "maximum" not in schema:
                    unbounded.append(name)
    assert unbounded == []


def test_the_profile_schema_requires_what_it_always_sends() -> None:
    profile = SPEC["components"]["schemas"]["ProfileResponse"]
    assert {"as_of", "read_at", "withheld"} <= set(profile["required"])
    assert "essential" not in profile["required"]  # left out when the role may not see it


@pytest.mark.parametrize(
    "raw",
    [
        "2026-03-01T09:00:00+00:00\x1fcrm\x1fm\x00",  # NUL: PostgreSQL cannot compare it
        "2026-03-01T09:00:00\x1fcrm\x1fm",  # no offset
        "0001-01-01T00:00:00+05:00\x1fcrm\x1fm",  # before year 1 in UTC
    ],
)
def test_a_cursor_the_database_cannot_take_is_refused(raw: str) -> None:
    token = base64.urlsafe_b64encode(raw.encode()).decode()
    with pytest.raises(InvalidCursor):
        Cursor.decode(token)


def test_a_cursor_handed_out_comes_back() -> None:
    cursor = Cursor(datetime(2026, 3, 1, 9, tzinfo=UTC), "crm", "m-1")
    assert Cursor.decode(cursor.encode()) == cursor
