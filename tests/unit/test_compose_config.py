"""docker-compose.yml is for users (no Docker engine here): validate what it says.

The file follows the Compose specification (``compose-spec``, the Rust ``compose_spec``
parser, after YAML anchors and merges are resolved as ``docker compose config`` does);
every ``TOUCHLOG_*`` variable it sets is a real setting, every touchlog service runs a
real CLI command, every dependency, volume and secret it names is declared; and the
production points of docs/DEPLOY.md hold: the log on a volume, a writable data directory
for the triggers worker, API tokens from a file, PostgreSQL not published, one resolver
and a scaled runner. Every setting DEPLOY.md names exists in the settings code.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from compose_spec import PyCompose

from touchlog import bootstrap
from touchlog.cli import parser
from touchlog.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "docs" / "DEPLOY.md"

Compose = dict[str, Any]  # a YAML mapping


@pytest.fixture(scope="module")
def compose() -> Compose:
    loaded: Compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def _touchlog_services(compose: Compose) -> dict[str, Compose]:
    return {n: s for n, s in compose["services"].items() if "build" in s}


def _mounts(service: Compose) -> dict[str, str]:
    """Container path → named volume."""
    return {
        target: source for source, target, *_ in (v.split(":") for v in service.get("volumes", []))
    }


def test_the_file_follows_the_compose_spec(compose: Compose) -> None:
    resolved = {k: v for k, v in compose.items() if not k.startswith("x-")}
    spec = PyCompose.from_json(json.dumps(resolved)).to_spec()  # raises on any violation
    assert set(spec.services or {}) == set(compose["services"])


def test_the_spec_check_rejects_a_mistake() -> None:
    with pytest.raises(ValueError, match="replicas"):
        PyCompose.from_yaml("services:\n  a:\n    image: x\n    deploy: {replicas: two}\n")


def test_every_reference_is_declared(compose: Compose) -> None:
    services = compose["services"]
    volumes = set(compose.get("volumes", {}))
    secrets = set(compose.get("secrets", {}))
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown service {dependency}"
        for source in _mounts(service).values():
            assert source in volumes, f"{name} mounts undeclared volume {source}"
        for secret in service.get("secrets", []):
            assert secret in secrets, f"{name} uses undeclared secret {secret}"


def test_touchlog_services_run_real_commands_with_real_settings(compose: Compose) -> None:
    fields = {name.upper() for name in Settings.model_fields}
    services = _touchlog_services(compose)
    assert {"init", "resolver", "triggers", "api", "gateway"} <= set(services)
    for name, service in services.items():
        command = service["command"]
        assert command[0] == "touchlog"
        parser().parse_args(command[1:])  # exits (SystemExit) on an unknown command
        for variable in service["environment"]:
            if variable.startswith("TOUCHLOG_"):
                assert variable.removeprefix("TOUCHLOG_") in fields, f"{name}: {variable}"
        assert "DATABASE_URL" in service["environment"]
        assert service["environment"]["TOUCHLOG_KAFKA_IDEMPOTENCE"] == "true"


def _stage_services(compose: Compose) -> dict[str, tuple[str, int]]:
    """Runner services → (stage, replicas)."""
    found = {}
    for name, service in _touchlog_services(compose).items():
        args = parser().parse_args(service["command"][1:])
        if service["command"][1] == "runner":
            found[name] = (args.stage, service.get("deploy", {}).get("replicas", 1))
    return found


def test_one_resolver_and_a_scaled_runner(compose: Compose) -> None:
    stages = _stage_services(compose)
    assert "all" not in {stage for stage, _ in stages.values()}, "identity must run alone"
    assert [n for n, (stage, _) in stages.items() if stage == "identity"] == ["resolver"]
    assert stages["resolver"][1] == 1
    assert set(bootstrap.STAGES) == {stage for stage, _ in stages.values()}
    partitions = int(compose["x-touchlog-env"]["TOUCHLOG_PARTITIONS"])
    scaled = [n for n, (stage, replicas) in stages.items() if replicas > 1]
    assert scaled, "no example of a scaled runner"
    assert all(1 <= replicas <= partitions for _, replicas in stages.values())


def test_kafka_keeps_its_log_on_a_volume(compose: Compose) -> None:
    kafka = compose["services"]["kafka"]
    log_dir = kafka["environment"]["KAFKA_LOG_DIRS"]
    assert log_dir in _mounts(kafka)
    assert kafka["environment"]["KAFKA_LOG_RETENTION_MS"] == "-1"
    assert kafka["environment"]["CLUSTER_ID"]  # the same cluster on the kept log
    assert all(p.startswith("127.0.0.1:") for p in kafka.get("ports", []))


def test_the_triggers_worker_has_a_writable_data_directory(compose: Compose) -> None:
    triggers = compose["services"]["triggers"]
    data_dir = triggers["environment"]["TOUCHLOG_DATA_DIR"]
    assert data_dir in _mounts(triggers)
    dockerfile = (ROOT / "Dockerfile").read_text()
    # A named volume starts as the image's directory: it must exist, owned by the user.
    assert re.search(rf"mkdir -p {data_dir} && chown nobody", dockerfile)
    assert dockerfile.index("chown nobody") < dockerfile.index("USER nobody")


def test_api_tokens_come_from_a_file(compose: Compose) -> None:
    api = compose["services"]["api"]
    path = api["environment"]["TOUCHLOG_API_TOKENS_FILE"]
    assert "TOUCHLOG_API_TOKENS" not in api["environment"]
    assert path in {f"/run/secrets/{s}" for s in api["secrets"]}
    assert "file" in compose["secrets"][Path(path).name]


def test_postgres_is_not_published(compose: Compose) -> None:
    assert "ports" not in compose["services"]["postgres"]


def test_dockerfile_copies_every_package(compose: Compose) -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    for package in ("events", "producers", "projections", "consumers", "api", "touchlog"):
        assert f"COPY {package} {package}" in dockerfile


def test_every_setting_deploy_names_exists() -> None:
    text = DEPLOY.read_text(encoding="utf-8")
    fields = {name.upper() for name in Settings.model_fields}
    named = set(re.findall(r"\bTOUCHLOG_([A-Z_]*[A-Z])\b", text))
    assert named - fields == set()
    security = {f.upper() for f in Settings.model_fields if f.startswith(("kafka_s",))}
    assert security <= named, f"DEPLOY.md does not name {security - named}"
    assert {"REPLICATION_FACTOR", "PARTITIONS", "KAFKA_IDEMPOTENCE"} <= named


def test_deploy_names_the_kafka_guarantees_touchlog_relies_on() -> None:
    text = DEPLOY.read_text(encoding="utf-8")
    for setting in ("min.insync.replicas=2", "acks=all", "retention.ms=-1"):
        assert setting in text
