"""Blue/green versions of the views.

Each version of a view keeps its tables in a PostgreSQL schema of its own
(``touchlog_timeline_v2``). The live version is served through plain SQL views of the
same names in the default schema (``public.timeline_v1`` → ``touchlog_timeline_v2.
timeline_v1``): every reader, the API included, queries the names it always did, and a
switch is one transaction that re-points those views and the registry. PostgreSQL's DDL
is transactional, so a reader sees the old version or the new one, never a mix.

A runner writes its own version's tables (``SET LOCAL search_path`` in each batch
transaction) and keeps its offsets under a consumer name of its own (``timeline_v1@v2``).
Tables a view shares across versions (what people did to a trigger, webhook deliveries)
stay in the default schema: a rebuild neither forgets them nor repeats them.

The first use of a view adopts tables already in the default schema as its version 1,
so a database made before versions existed keeps its data and its offsets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from projections.db import SCHEMA_LOCK, Connection, Queryable, create_tables

REGISTRY = """
CREATE TABLE IF NOT EXISTS view_versions (
    view         text        NOT NULL,
    version      int         NOT NULL,
    state        text        NOT NULL
        CHECK (state IN ('building', 'ready', 'live', 'retired')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    ready_at     timestamptz,
    live_since   timestamptz,
    retired_at   timestamptz,
    PRIMARY KEY (view, version)
);
ALTER TABLE view_versions ADD COLUMN IF NOT EXISTS identity_version int;
CREATE TABLE IF NOT EXISTS live_views (
    view         text        PRIMARY KEY,
    version      int         NOT NULL,
    switched_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE view_versions IS 'touchlog:no-personal-data (versions of each view)';
COMMENT ON TABLE live_views IS 'touchlog:no-personal-data (which version is live)';
"""
"""Which versions of each view exist, and which one is live (one row per view, which a
runner's batch reads ``FOR SHARE`` and a switch updates). ``identity_version``: for a view
of ``touchlog.resolved``, the identity version whose topic it reads (NULL: version 1's)."""


class VersionError(Exception):
    """An operation on versions that cannot be done as asked (its message says why)."""


def namespace(view: str, version: int) -> str:
    """The PostgreSQL schema holding ``view``'s tables at ``version``."""
    return f"touchlog_{view}_v{version}"


def consumer(name: str, version: int) -> str:
    """The name a runner of ``version`` keeps its offsets under: version 1 keeps the
    view's own name, as before versions existed."""
    return name if version == 1 else f"{name}@v{version}"


def resolved_topic(base: str, identity_version: int | None) -> str:
    """The topic identity ``identity_version`` publishes to: version 1 the configured one
    (``touchlog.resolved``), a rebuilt version one of its own (``touchlog.resolved.v2``)."""
    return base if (identity_version or 1) <= 1 else f"{base}.v{identity_version}"


def search_path(view: str, version: int, default: str = "public") -> str:
    """A runner's ``search_path``: its version's tables, then the shared ones (found on
    the ``default`` path, the session's own)."""
    return f'"{namespace(view, version)}", {default}'


def lock_key(view: str, version: int) -> str:
    """Text of the advisory lock a runner of this version holds (``hashtext``'d): shared
    by live runners, exclusive by a rebuild."""
    return f"touchlog view {view} v{version}"


@dataclass(frozen=True, slots=True)
class Version:
    view: str
    version: int
    state: str
    created_at: datetime
    ready_at: datetime | None
    live_since: datetime | None
    retired_at: datetime | None
    identity_version: int | None = None
    """For a view of ``touchlog.resolved``: the identity version whose topic it reads."""

    @property
    def reads_identity(self) -> int:
        return self.identity_version or 1

    @property
    def namespace(self) -> str:
        return namespace(self.view, self.version)


async def table_names(conn: Connection, *schemas: str) -> list[str]:
    """The tables these idempotent ``SCHEMA`` s create, found by running them into the
    session's temporary schema inside a transaction that is rolled back."""
    probe = conn.transaction()
    await probe.start()
    try:
        await conn.execute("SET LOCAL search_path TO pg_temp")
        for schema in schemas:
            await conn.execute(schema)
        return [
            r["relname"]
            for r in await conn.fetch(
                "SELECT relname FROM pg_class "
                "WHERE relnamespace = pg_my_temp_schema() AND relkind IN ('r', 'p') "
                "ORDER BY relname"
            )
        ]
    finally:
        await probe.rollback()


async def ensure_live(
    conn: Connection, view: str, schema: Sequence[str], shared: Sequence[str] = ()
) -> int:
    """The live version of ``view``, ready to serve: its missing tables created (version
    1 on first use, adopting tables of the same names already in the default schema),
    the shared tables created, and the default schema's views pointing at it."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", SCHEMA_LOCK)
        await conn.execute(REGISTRY)
        if shared:
            await create_tables(conn, *shared)
        live = await conn.fetchval("SELECT version FROM live_views WHERE view = $1", view)
        names = await table_names(conn, *schema)
        if live is None:
            live = 1
            await _adopt(conn, view, names)
            await conn.execute(
                "INSERT INTO view_versions (view, version, state, live_since) "
                "VALUES ($1, 1, 'live', now()) ON CONFLICT DO NOTHING",
                view,
            )
            await conn.execute("INSERT INTO live_views (view, version) VALUES ($1, 1)", view)
        await _create_version_tables(conn, view, live, schema)
        await _point_views(conn, view, live, names)
    return int(live)


async def prepare_version(
    conn: Connection, view: str, version: int, schema: Sequence[str], shared: Sequence[str] = ()
) -> None:
    """``version`` 's tables (and the shared ones) exist; nothing is served from them."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", SCHEMA_LOCK)
        await conn.execute(REGISTRY)
        if shared:
            await create_tables(conn, *shared)
        await _create_version_tables(conn, view, version, schema)


async def begin_rebuild(
    conn: Connection,
    view: str,
    schema: Sequence[str],
    shared: Sequence[str] = (),
    identity_version: int | None = None,
) -> tuple[int, bool]:
    """The version a rebuild of ``view`` writes, and whether it resumes one already
    begun: the newest version above the live one that is not yet live, else a new one.
    ``identity_version``: the identity version whose topic a view of ``touchlog.resolved``
    reads; a version begun from another one is superseded (retired, for ``drop-old``)."""
    await ensure_live(conn, view, schema, shared)
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", SCHEMA_LOCK)
        pending = await conn.fetchrow(
            "SELECT version, coalesce(identity_version, 1) = coalesce($2, 1) AS same_source "
            "FROM view_versions WHERE view = $1 AND state IN ('building', 'ready') "
            "ORDER BY version DESC LIMIT 1",
            view,
            identity_version,
        )
        if pending is not None and pending["same_source"]:
            version, resumed = int(pending["version"]), True
        else:
            if pending is not None:
                await conn.execute(
                    "UPDATE view_versions SET state = 'retired', retired_at = now() "
                    "WHERE view = $1 AND state IN ('building', 'ready')",
                    view,
                )
            newest = await conn.fetchval(
                "SELECT max(version) FROM view_versions WHERE view = $1", view
            )
            version, resumed = int(newest) + 1, False
            await conn.execute(
                "INSERT INTO view_versions (view, version, state, identity_version) "
                "VALUES ($1, $2, 'building', $3)",
                view,
                version,
                identity_version,
            )
        await _create_version_tables(conn, view, version, schema)
    return version, resumed


async def mark_ready(conn: Queryable, view: str, version: int) -> None:
    await conn.execute(
        "UPDATE view_versions SET state = 'ready', ready_at = now() "
        "WHERE view = $1 AND version = $2 AND state = 'building'",
        view,
        version,
    )


async def lock_live(conn: Connection, view: str) -> int:
    """The live version, its registry row locked until the transaction ends: runners'
    batches (which read it ``FOR SHARE``) wait, so their offsets stand still."""
    live = await conn.fetchval("SELECT version FROM live_views WHERE view = $1 FOR UPDATE", view)
    if live is None:
        raise VersionError(f"{view} has no live version yet: start touchlog up or its runner")
    return int(live)


async def make_live(conn: Connection, view: str, version: int, schema: Sequence[str]) -> int:
    """Inside the caller's transaction (after ``lock_live``): point the default schema's
    views at ``version`` and record it live. Returns the version it replaces."""
    previous = await lock_live(conn, view)
    if previous == version:
        raise VersionError(f"{view} v{version} is already live")
    await _point_views(conn, view, version, await table_names(conn, *schema))
    await conn.execute(
        "UPDATE live_views SET version = $2, switched_at = now() WHERE view = $1", view, version
    )
    await conn.execute(
        "UPDATE view_versions SET state = 'retired', retired_at = now() "
        "WHERE view = $1 AND version = $2",
        view,
        previous,
    )
    await conn.execute(
        "UPDATE view_versions SET state = 'live', live_since = now() "
        "WHERE view = $1 AND version = $2",
        view,
        version,
    )
    return previous


async def versions(conn: Queryable, view: str | None = None) -> list[Version]:
    """Every version of ``view`` (or of every view), oldest first."""
    exists = await conn.fetchval("SELECT to_regclass('view_versions') IS NOT NULL")
    if not exists:
        return []
    rows = await conn.fetch(
        "SELECT view, version, state, created_at, ready_at, live_since, retired_at, "
        "identity_version FROM view_versions WHERE $1::text IS NULL OR view = $1 "
        "ORDER BY view, version",
        view,
    )
    return [Version(*r) for r in rows]


async def live_version(conn: Queryable, view: str) -> int | None:
    exists = await conn.fetchval("SELECT to_regclass('live_views') IS NOT NULL")
    if not exists:
        return None
    live = await conn.fetchval("SELECT version FROM live_views WHERE view = $1", view)
    return None if live is None else int(live)


async def identity_version(conn: Queryable, view: str, version: int) -> int:
    """The identity version whose topic ``view`` 's ``version`` reads (1 if none is
    recorded: version 1, or a view not of ``touchlog.resolved``)."""
    found = await conn.fetchval(
        "SELECT identity_version FROM view_versions WHERE view = $1 AND version = $2",
        view,
        version,
    )
    return int(found or 1)


async def drop_version(conn: Connection, view: str, version: int, consumer: str) -> None:
    """Drop a retired version's tables and forget it and its runners' offsets (kept under
    ``consumer``); any other version is refused."""
    async with conn.transaction():
        state = await conn.fetchval(
            "SELECT state FROM view_versions WHERE view = $1 AND version = $2 FOR UPDATE",
            view,
            version,
        )
        if state != "retired":
            raise VersionError(f"{view} v{version} is {state or 'unknown'}, not retired")
        await conn.execute(f'DROP SCHEMA IF EXISTS "{namespace(view, version)}" CASCADE')
        await conn.execute(
            "DELETE FROM view_versions WHERE view = $1 AND version = $2", view, version
        )
        await conn.execute("DELETE FROM consumer_offsets WHERE consumer = $1", consumer)


async def _adopt(conn: Connection, view: str, names: Sequence[str]) -> None:
    """Tables of ``names`` already in the default schema become version 1's."""
    ns = namespace(view, 1)
    await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{ns}"')
    existing = await conn.fetch(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relname = ANY($1) AND c.relkind IN ('r', 'p')",
        list(names),
    )
    for row in existing:
        await conn.execute(f'ALTER TABLE "{row["relname"]}" SET SCHEMA "{ns}"')


async def _create_version_tables(
    conn: Connection, view: str, version: int, schema: Sequence[str]
) -> None:
    ns = namespace(view, version)
    default = await conn.fetchval("SELECT current_setting('search_path')")
    await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{ns}"')
    # SET LOCAL outlives a savepoint: the session's path is restored by hand.
    await conn.execute(f"SET LOCAL search_path TO {search_path(view, version, default)}")
    for ddl in schema:
        await conn.execute(ddl)
    await conn.execute("SELECT set_config('search_path', $1, true)", default)


async def _point_views(conn: Connection, view: str, version: int, names: Sequence[str]) -> None:
    """The default schema's views of ``names`` select from ``version`` 's tables."""
    ns = namespace(view, version)
    for name in names:  # ours (from the DDL), not input
        if await conn.fetchval(_POINTED, name, ns):
            continue  # already so, with every column: no lock taken on readers
        await conn.execute(f'DROP VIEW IF EXISTS "{name}"')
        await conn.execute(f'CREATE VIEW "{name}" AS SELECT * FROM "{ns}"."{name}"')


_POINTED = """
SELECT v.oid IS NOT NULL AND EXISTS (
           SELECT 1 FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
           WHERE r.ev_class = v.oid AND d.refobjid = t.oid)
       AND (SELECT array_agg(attname ORDER BY attnum) FROM pg_attribute
            WHERE attrelid = v.oid AND attnum > 0 AND NOT attisdropped)
         = (SELECT array_agg(attname ORDER BY attnum) FROM pg_attribute
            WHERE attrelid = t.oid AND attnum > 0 AND NOT attisdropped)
FROM (SELECT to_regclass(format('%I', $1::text)) AS oid) v,
     (SELECT to_regclass(format('%I.%I', $2::text, $1::text)) AS oid) t
"""
"""Does the default schema's view ``$1`` select every column of ``$2.$1``?"""


_NAMESPACES = "SELECT nspname FROM pg_namespace WHERE nspname ~ '^touchlog_[a-z_]+_v[0-9]+$'"


async def versioned_tables(conn: Queryable) -> list[tuple[str, str]]:
    """Every table of every version of every view: (schema, table)."""
    rows = await conn.fetch(
        "SELECT schemaname, tablename FROM pg_tables "
        f"WHERE schemaname IN ({_NAMESPACES}) ORDER BY 1, 2"
    )
    return [(r["schemaname"], r["tablename"]) for r in rows]


async def drop_namespaces(conn: Queryable) -> None:
    """Drop every version of every view, with the default schema's views of them."""
    for row in await conn.fetch(_NAMESPACES):
        await conn.execute(f'DROP SCHEMA IF EXISTS "{row["nspname"]}" CASCADE')
