"""Every setting touchlog reads, from environment variables (documented in the README)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, Field, StringConstraints
from pydantic_settings import BaseSettings, SettingsConfigDict

from events import topics

# PostgresDsn rejects the unix-socket form (``postgresql://user@/db?host=/run/pg``) that
# libpq, asyncpg and the embedded server use, so only the scheme is checked here.
DatabaseUrl = Annotated[str, StringConstraints(pattern=r"^postgres(ql)?://")]


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

    default_region: str = Field(
        "FR", description="Region for phone numbers written without a country code (ISO 3166)."
    )
    identity_rules: Path | None = Field(
        None, description="YAML file of identity rules: blocklist, shared_numbers, max_customers."
    )

    api_host: str = "127.0.0.1"
    api_port: int = Field(8000, ge=0, le=65535)

    log_format: str = Field("json", pattern="^(json|console)$")
    log_level: str = Field("info", pattern="^(debug|info|warning|error)$")

    def topics(self) -> list[str]:
        """Every topic touchlog uses, to be created at start."""
        return [
            self.topic_touchpoints,
            self.topic_resolved,
            self.topic_deadletter,
            self.topic_triggers,
        ]
