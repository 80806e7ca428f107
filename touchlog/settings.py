"""Every setting touchlog reads, from environment variables (documented in the README)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from api.roles import Role
from events import topics

# PostgresDsn rejects the unix-socket form (``postgresql://user@/db?host=/run/pg``) that
# libpq, asyncpg and the embedded server use, so only the scheme is checked here.
DatabaseUrl = Annotated[str, StringConstraints(pattern=r"^postgres(ql)?://")]


class ApiToken(BaseModel):
    """Who holds an API token, and their role."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: Role
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class Settings(BaseSettings):
    """touchlog's configuration. Environment variables are prefixed ``TOUCHLOG_``,
    except ``DATABASE_URL``, which keeps its conventional name."""

    model_config = SettingsConfigDict(env_prefix="TOUCHLOG_", extra="ignore", frozen=True)

    kafka_bootstrap_servers: str | None = Field(
        None, description="Kafka bootstrap servers; unset → start the embedded broker."
    )
    kafka_idempotence: bool = Field(
        True,
        description="Idempotent producer. On for real Kafka; forced off for the embedded "
        "broker, which rejects InitProducerId.",
    )
    # TLS and SASL for a managed Kafka (touchlog.kafka_security turns them into every
    # client's options); the embedded broker is plaintext on 127.0.0.1 and ignores them.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT",
        description="How clients talk to Kafka: PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL.",
    )
    kafka_ssl_cafile: Path | None = Field(
        None,
        description="PEM file of the CA(s) that signed the brokers' certificates; "
        "unset → the system's trusted CAs.",
    )
    kafka_ssl_certfile: Path | None = Field(
        None, description="PEM client certificate, for brokers that require mutual TLS."
    )
    kafka_ssl_keyfile: Path | None = Field(None, description="PEM key of the client certificate.")
    kafka_ssl_key_password: SecretStr | None = Field(
        None, description="Password of the client certificate's key, if it has one."
    )
    kafka_ssl_check_hostname: bool = Field(
        True, description="Check that a broker's certificate names the host connected to."
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "PLAIN", description="SASL mechanism with SASL_PLAINTEXT / SASL_SSL."
    )
    kafka_sasl_username: str | None = Field(None, description="SASL user name.")
    kafka_sasl_password: SecretStr | None = Field(None, description="SASL password.")
    database_url: DatabaseUrl | None = Field(
        None,
        validation_alias=AliasChoices("DATABASE_URL", "TOUCHLOG_DATABASE_URL"),
        description="PostgreSQL DSN; unset → start an embedded PostgreSQL in data_dir.",
    )
    data_dir: Path = Field(Path(".touchlog"), description="Where embedded services keep data.")

    topic_touchpoints: str = topics.TOUCHPOINTS
    topic_resolved: str = topics.RESOLVED
    topic_deadletter: str = topics.DEADLETTER
    topic_triggers: str = topics.TRIGGERS
    topic_triggers_suppressed: str = topics.TRIGGERS_SUPPRESSED
    topic_trigger_commands: str = topics.TRIGGER_COMMANDS
    topic_audiences: str = topics.AUDIENCES
    partitions: int = Field(6, ge=1, le=1000)
    replication_factor: int = Field(1, ge=1)

    consumer_group: str = Field("touchlog-projections", description="Projection runner's group.")
    batch_max_records: int = Field(5000, ge=1, description="Records per runner transaction.")
    identity_batch_max_records: int = Field(
        20_000,
        ge=1,
        description="Records per resolver transaction: its fixed costs per transaction (graph "
        "queries, the broker's acknowledgements) amortise over bigger batches.",
    )
    outage_tolerance_seconds: float = Field(
        300.0,
        gt=0,
        description="How long a stage (the runners, the webhook dispatcher, the faust worker) "
        "waits out an unreachable PostgreSQL or broker, retrying with backoff, before it "
        "gives up and stops with the error (nothing it had not applied is acknowledged).",
    )
    identity_helper_process: bool = Field(
        True,
        description="Decode records and parse their identifiers in a helper process, beside "
        "the resolver's own (it then resolves one batch while the next is parsed).",
    )

    default_region: str = Field(
        "FR", description="Region for phone numbers written without a country code (ISO 3166)."
    )
    identity_rules: Path | None = Field(
        None, description="YAML file of identity rules: blocklist, shared_numbers, max_customers."
    )

    trigger_rules: Path | None = Field(
        None, description="YAML file of trigger rules; unset → the built-in rules."
    )
    triggers_app_id: str = Field(
        "touchlog-triggers",
        description="The faust app id: its consumer group and the prefix of its changelog topic.",
    )
    trigger_co_purchases_refresh: float = Field(
        60.0,
        gt=0,
        description="Seconds between reloads of the co-purchase rules the trigger worker keeps "
        "for cross-sell rules with offer: recommended.",
    )
    trigger_co_purchases_min_customers: int = Field(
        5, ge=1, description="Fewest customers who bought both for a co-purchase rule to count."
    )
    webhooks_file: Path | None = Field(
        None, description="YAML file of webhook subscribers: name, url, secret, filters."
    )
    audiences_file: Path | None = Field(
        None, description="YAML file of audience definitions (docs/AUDIENCES.md); unset → none."
    )

    api_tokens: dict[str, ApiToken] = Field(
        default_factory=dict,
        description="API tokens (JSON): token, or 'sha256:<hex>' of it → {role, name}.",
    )
    api_tokens_file: Path | None = Field(
        None, description="YAML file of API tokens, same shape as api_tokens; both are used."
    )

    api_host: str = "127.0.0.1"
    api_port: int = Field(8000, ge=0, le=65535)

    gateway_host: str = "127.0.0.1"
    gateway_port: int = Field(8001, ge=0, le=65535)
    gateway_track_mapping: Path | None = Field(
        None, description="YAML rules: Segment track event name → touchpoint type and fields."
    )
    gateway_publish_timeout: float = Field(
        5.0, gt=0, description="Seconds a request waits for the broker's acknowledgement."
    )
    gateway_retry_after: int = Field(5, ge=1, description="Retry-After of a 503 / 429, seconds.")
    gateway_dedup_days: int = Field(7, ge=1, description="Days a message_id is remembered.")

    log_format: str | None = Field(
        None,
        pattern="^(json|console)$",
        description="json or console; unset → console on a terminal, json otherwise.",
    )
    log_level: str = Field("info", pattern="^(debug|info|warning|error)$")
    metrics_port: int | None = Field(
        None,
        ge=0,
        le=65535,
        description="Serve Prometheus /metrics on this port from `touchlog runner` and "
        "`touchlog triggers worker` (the API and the gateway serve their own).",
    )

    # Personal data (docs/PRIVACY.md).
    master_key: SecretStr | None = Field(
        None,
        description="Base64 of 32 random bytes: wraps every data key. Unset → "
        "master_key_file, else a key made once in data_dir (development only).",
    )
    master_key_file: Path | None = Field(None, description="File holding the master key.")
    seal_personal_data: bool = Field(
        True,
        description="Producers (SDK, gateway, importers, demo) seal personal fields with "
        "the subject's data key; off: they publish in clear and erasure cannot reach the log.",
    )
    key_cache_seconds: float = Field(
        60.0,
        ge=0,
        description="How long a process keeps a data key: an erasure reaches every "
        "process's cache within this.",
    )
    retention_days: dict[str, int | None] = Field(
        default_factory=dict,
        description="Event type → days its personal fields are kept (JSON; null: until "
        "erasure). Unlisted types keep privacy.retention's defaults.",
    )

    # Managers' analytics (docs/ANALYTICS.md).
    analytics_min_cell_customers: int = Field(
        10,
        ge=1,
        description="Cross-reference of restricted bands: a cell of fewer customers is "
        "suppressed, so that no one can be re-identified.",
    )
    analytics_change_threshold: float = Field(
        0.1, gt=0, description="Year on year: a relative change above this is flagged."
    )
    analytics_attribution_days: int = Field(
        30, ge=1, description="A purchase this many days after a campaign response is its."
    )
    analytics_conversion_days: int = Field(
        30, ge=1, description="A trigger converts with a purchase in its offer this many days on."
    )
    analytics_lapse_days: int = Field(
        365, ge=1, description="A customer with no contact for this many days has lapsed."
    )
    analytics_campaign_costs: dict[str, Decimal] = Field(
        default_factory=dict,
        description="Campaign code → what it cost (JSON), for the return on it.",
    )

    @model_validator(mode="after")
    def _sasl_needs_credentials(self) -> Self:
        if self.kafka_security_protocol.startswith("SASL_") and not (
            self.kafka_sasl_username and self.kafka_sasl_password
        ):
            raise ValueError(
                f"TOUCHLOG_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs "
                "TOUCHLOG_KAFKA_SASL_USERNAME and TOUCHLOG_KAFKA_SASL_PASSWORD"
            )
        return self

    def topics(self) -> list[str]:
        """Every topic touchlog uses, to be created at start."""
        return [
            self.topic_touchpoints,
            self.topic_resolved,
            self.topic_deadletter,
            self.topic_triggers,
            self.topic_triggers_suppressed,
            self.topic_trigger_commands,
            self.topic_audiences,
        ]
