"""docker-compose.yml is for users (no Docker engine here): validate what it says.

Every ``TOUCHLOG_*`` variable it sets is a real setting, every touchlog service
runs a real CLI command, and every dependency names a service in the file.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from touchlog.cli import parser
from touchlog.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_services_and_dependencies_exist(compose: dict) -> None:
    services = compose["services"]
    assert {"kafka", "postgres", "runner", "api"} <= set(services)
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown service {dependency}"


def test_touchlog_services_run_real_commands_with_real_settings(compose: dict) -> None:
    fields = {name.upper() for name in Settings.model_fields}
    touchlog_services = {n: s for n, s in compose["services"].items() if "build" in s}
    assert set(touchlog_services) == {"init", "runner", "triggers", "api", "gateway"}
    for name, service in touchlog_services.items():
        command = service["command"]
        assert command[0] == "touchlog"
        parser().parse_args(command[1:])  # exits (SystemExit) on an unknown command
        for variable in service["environment"]:
            if variable.startswith("TOUCHLOG_"):
                assert variable.removeprefix("TOUCHLOG_") in fields, f"{name}: {variable}"
        assert "DATABASE_URL" in service["environment"]
        assert service["environment"]["TOUCHLOG_KAFKA_IDEMPOTENCE"] == "true"


def test_dockerfile_copies_every_package(compose: dict) -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    for package in ("events", "producers", "projections", "consumers", "api", "touchlog"):
        assert f"COPY {package} {package}" in dockerfile
