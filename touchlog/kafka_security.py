"""TLS and SASL settings → the options of every Kafka client touchlog starts.

The one translation: aiokafka keyword arguments (producers, consumers, the admin client)
and faust's ``broker_credentials``. The composition root (``touchlog.bootstrap``) calls
it once and hands the result to the clients, which spread it into their constructors;
so a managed Kafka service (TLS, SASL PLAIN or SCRAM) needs settings, not code.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Any

from aiokafka.helpers import create_ssl_context

from touchlog.settings import Settings

PLAINTEXT = "PLAINTEXT"


def ssl_context(settings: Settings) -> ssl.SSLContext:
    """Verifies the brokers against ``kafka_ssl_cafile`` (else the system's CAs); presents
    a client certificate when one is configured (mutual TLS)."""
    password = settings.kafka_ssl_key_password
    context: ssl.SSLContext = create_ssl_context(
        cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None,
        certfile=str(settings.kafka_ssl_certfile) if settings.kafka_ssl_certfile else None,
        keyfile=str(settings.kafka_ssl_keyfile) if settings.kafka_ssl_keyfile else None,
        password=password.get_secret_value() if password else None,
    )
    context.check_hostname = settings.kafka_ssl_check_hostname
    return context


def aiokafka_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``AIOKafkaProducer``, ``AIOKafkaConsumer`` and
    ``AIOKafkaAdminClient``; empty for PLAINTEXT, so that nothing changes there."""
    protocol = settings.kafka_security_protocol
    if protocol == PLAINTEXT:
        return {}
    options: dict[str, Any] = {"security_protocol": protocol}
    if protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = ssl_context(settings)
    if protocol.startswith("SASL_"):
        password = settings.kafka_sasl_password
        options |= {
            "sasl_mechanism": settings.kafka_sasl_mechanism,
            "sasl_plain_username": settings.kafka_sasl_username,
            "sasl_plain_password": password.get_secret_value() if password else None,
        }
    return options


def faust_credentials(options: Mapping[str, Any]) -> Any:
    """faust's ``broker_credentials`` for the same options (None for PLAINTEXT). faust
    turns them back into these aiokafka options for its producer, consumer and admin
    client (``faust.transport.drivers.aiokafka.credentials_to_aiokafka_auth``)."""
    import faust  # the triggers worker's dependency: imported only where it runs

    protocol = options.get("security_protocol", PLAINTEXT)
    if protocol == PLAINTEXT:
        return None
    if protocol == "SSL":
        return faust.SSLCredentials(options["ssl_context"])
    credentials = faust.SASLCredentials(
        username=options["sasl_plain_username"],
        password=options["sasl_plain_password"],
        ssl_context=options.get("ssl_context"),
        mechanism=options["sasl_mechanism"],
    )
    return credentials
