"""TLS and SASL settings reach every Kafka client touchlog starts (no broker: each client's
constructor is replaced by one that records its options and stops there).

The clients, from the settings through the composition root: the SDK's producer, the
resolver's producer, a stage's consumer and dead-letter producer, the high-watermark
probe, the admin client, ``touchlog status``'s probe, the gateway's producer, the
triggers worker's tail reader, and faust's producer, consumer and admin client (through
its ``broker_credentials``).
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from aiokafka import TopicPartition
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from pydantic import ValidationError

from consumers import kafka as consumer_kafka
from consumers import log_check, status
from consumers.triggers import tail
from consumers.triggers.app import build_app
from producers import publisher
from producers.gateway import sink
from projections.triggers import DEFAULT_RULES
from touchlog import bootstrap, cli_common, cli_status, kafka_admin, kafka_security
from touchlog.settings import Settings

PASSWORD = "s3cret"  # noqa: S105  # a test credential
SASL = {
    "kafka_bootstrap_servers": "broker-1.example:9096,broker-2.example:9096",
    "database_url": "postgresql://touchlog@db.example/touchlog",
    "kafka_security_protocol": "SASL_SSL",
    "kafka_sasl_mechanism": "SCRAM-SHA-512",
    "kafka_sasl_username": "touchlog-svc",
    "kafka_sasl_password": PASSWORD,
}


class Constructed(Exception):  # a signal, not an error
    """Raised by a recording client constructor: the options are all the test needs."""

    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__("constructed")
        self.options = options


def _recording(*_: Any, **options: Any) -> Any:
    raise Constructed(options)


@pytest.fixture
def settings() -> Settings:
    return Settings(**SASL)  # type: ignore[arg-type]


@pytest.fixture
def ends(settings: Settings) -> bootstrap.Endpoints:
    return bootstrap.configured_endpoints(settings)


def _assert_sasl(options: dict[str, Any]) -> None:
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "touchlog-svc"
    assert options["sasl_plain_password"] == PASSWORD
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname


async def _options_of(
    monkeypatch: pytest.MonkeyPatch,
    module: Any,
    client: str,
    start: Callable[[], Coroutine[Any, Any, Any] | Any],
) -> dict[str, Any]:
    async def run() -> None:
        started = start()
        if isinstance(started, Coroutine):
            await started

    monkeypatch.setattr(module, client, _recording)
    with pytest.raises(Constructed) as constructed:
        await run()
    return constructed.value.options


def test_translation_for_each_protocol() -> None:
    assert kafka_security.aiokafka_options(Settings()) == {}
    tls = kafka_security.aiokafka_options(Settings(kafka_security_protocol="SSL"))
    assert set(tls) == {"security_protocol", "ssl_context"}
    plain = kafka_security.aiokafka_options(
        Settings(
            kafka_security_protocol="SASL_PLAINTEXT",
            kafka_sasl_username="u",
            kafka_sasl_password=PASSWORD,
        )
    )
    assert plain == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "PLAIN",
        "sasl_plain_username": "u",
        "sasl_plain_password": PASSWORD,
    }
    unchecked = Settings(kafka_security_protocol="SSL", kafka_ssl_check_hostname=False)
    assert not kafka_security.ssl_context(unchecked).check_hostname


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_every_sasl_mechanism_is_accepted(mechanism: str) -> None:
    settings = Settings(**SASL | {"kafka_sasl_mechanism": mechanism})  # type: ignore[arg-type]
    assert kafka_security.aiokafka_options(settings)["sasl_mechanism"] == mechanism


def test_sasl_without_credentials_is_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="TOUCHLOG_KAFKA_SASL_USERNAME"):
        Settings(kafka_security_protocol="SASL_SSL")
    with pytest.raises(ValidationError):
        Settings(kafka_sasl_mechanism="GSSAPI")


def test_the_password_is_not_shown(settings: Settings) -> None:
    assert PASSWORD not in repr(settings)


def test_the_embedded_broker_gets_none(tmp_path: Path) -> None:
    """A running ``touchlog up``'s embedded broker is plaintext on 127.0.0.1."""
    (tmp_path / "endpoints.json").write_text(
        json.dumps({"bootstrap_servers": "127.0.0.1:9092", "database_url": SASL["database_url"]})
    )
    embedded = Settings(**SASL | {"kafka_bootstrap_servers": None, "data_dir": tmp_path})  # type: ignore[arg-type]
    assert bootstrap.configured_endpoints(embedded).kafka_security == {}


async def test_the_sdk(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, ends: bootstrap.Endpoints
) -> None:
    _assert_sasl(
        await _options_of(
            monkeypatch,
            publisher,
            "AIOKafkaProducer",
            lambda: cli_common.publisher(settings, ends),
        )
    )


async def test_the_resolvers_producer(
    monkeypatch: pytest.MonkeyPatch, ends: bootstrap.Endpoints
) -> None:
    async def start() -> None:
        async with bootstrap.producer(ends, "touchlog-resolver"):
            pass

    _assert_sasl(await _options_of(monkeypatch, bootstrap, "AIOKafkaProducer", start))


async def test_a_stages_consumer_producer_and_probe(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, ends: bootstrap.Endpoints
) -> None:
    runner = bootstrap.resolved_view_runner(settings, ends, None, "timeline")  # type: ignore[arg-type]
    reader, writer = runner.reader, runner.writer
    _assert_sasl(await _options_of(monkeypatch, consumer_kafka, "AIOKafkaConsumer", reader.start))
    _assert_sasl(await _options_of(monkeypatch, consumer_kafka, "AIOKafkaProducer", writer.start))
    _assert_sasl(
        await _options_of(
            monkeypatch,
            log_check,
            "AIOKafkaConsumer",
            lambda: reader.log_ends({TopicPartition("t", 0): 0}),
        )
    )


async def test_the_admin_client(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, ends: bootstrap.Endpoints
) -> None:
    _assert_sasl(
        await _options_of(
            monkeypatch,
            kafka_admin,
            "AIOKafkaAdminClient",
            lambda: kafka_admin.ensure_topics(
                ends.bootstrap_servers, settings.topics(), 6, 3, security=ends.kafka_security
            ),
        )
    )


async def test_the_status_probe(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    catalogue = cli_status.catalogue(settings)  # what GET /status reads the log with
    stage = catalogue.stages[0]
    _assert_sasl(
        await _options_of(
            monkeypatch,
            log_check,  # status reads the log with log_check's probe
            "AIOKafkaConsumer",
            lambda: status._read_log(
                catalogue.bootstrap_servers, stage, {}, 1.0, catalogue.kafka_security
            ),
        )
    )


async def test_the_gateways_producer(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, ends: bootstrap.Endpoints
) -> None:
    config = bootstrap.gateway_config(settings, ends)
    _assert_sasl(
        await _options_of(
            monkeypatch,
            sink,
            "AIOKafkaProducer",
            lambda: sink.LogSink(
                config.bootstrap_servers, config.topic, security=config.kafka_security
            ),
        )
    )


async def test_the_triggers_worker_and_faust(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, ends: bootstrap.Endpoints
) -> None:
    config = bootstrap.trigger_app_config(settings, ends)
    _assert_sasl(
        await _options_of(
            monkeypatch,
            tail,
            "AIOKafkaConsumer",
            lambda: tail.published_trigger_ids(
                config.bootstrap_servers, ["t"], [0], 10, config.kafka_security
            ),
        )
    )
    app, _ = build_app(config, DEFAULT_RULES)
    # What faust's aiokafka transport gives its producer, consumer and admin client.
    faust_options = dict(
        credentials_to_aiokafka_auth(app.conf.broker_credentials, app.conf.ssl_context)
    )
    _assert_sasl(faust_options)
    assert faust_options == dict(ends.kafka_security)
