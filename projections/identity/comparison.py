"""Two versions of the identity graph, table by table: the same customers, links, merges,
splits (pairs kept apart) and decisions, or the rows that differ.

Customer ids derive from the events that gave birth to them (``records.new_customer_id``)
and decisions replay from the log in its order, so two versions built from the same log
up to the same offsets are equal row for row.
"""

from __future__ import annotations

from dataclasses import dataclass

from projections.db import Queryable

TABLES = {
    "customers": ("identity_customers", "customer_id, born_at, born_from, merged_into"),
    "links": ("identity_links", "identifier, customer_id, source_system, message_id, linked_at"),
    "merges": ("identity_merges", "survivor, merged, reason, message_id, merged_at"),
    "kept apart": ("identity_kept_apart", "a, b"),
    "rejected": ("identity_rejected_pairs", "a, b, rejected_by, reason, rejected_at"),
    "shared": ("identity_shared", "identifier, reason, message_id, detected_at"),
    "names": ("identity_names", "customer_id, given_name, family_name"),
    "not matched": ("identity_not_matched", "identifier, reason, message_id"),
}
"""What is compared, by what the comparison calls it: every table, every column."""

EXAMPLES = 3


@dataclass(frozen=True, slots=True)
class TableComparison:
    what: str
    rows: tuple[int, int]
    """Rows in the first version, in the second."""
    only_in: tuple[int, int]
    """Rows of the first not in the second, of the second not in the first."""
    examples: tuple[str, ...]
    """A few of those rows, each prefixed with the side it is only on (``-``, ``+``)."""

    @property
    def equal(self) -> bool:
        return self.only_in == (0, 0)


async def compare(conn: Queryable, first: str, second: str) -> list[TableComparison]:
    """Every table of the graph in PostgreSQL schema ``first`` against ``second``."""
    found = []
    for what, (table, columns) in TABLES.items():
        a = f'SELECT {columns} FROM "{first}".{table}'  # our names, not input
        b = f'SELECT {columns} FROM "{second}".{table}'
        row = tuple(
            await conn.fetchrow(
                f"SELECT (SELECT count(*) FROM ({a}) x), (SELECT count(*) FROM ({b}) y), "
                f"(SELECT count(*) FROM ({a} EXCEPT ALL {b}) p), "
                f"(SELECT count(*) FROM ({b} EXCEPT ALL {a}) q)"
            )
            or (0, 0, 0, 0)
        )
        examples: list[str] = []
        if row[2] or row[3]:
            for sign, query in (("-", f"{a} EXCEPT ALL {b}"), ("+", f"{b} EXCEPT ALL {a}")):
                rows = await conn.fetch(f"{query} ORDER BY 1 LIMIT {EXAMPLES}")
                examples += [f"{sign} {tuple(r)}" for r in rows]
        found.append(TableComparison(what, (row[0], row[1]), (row[2], row[3]), tuple(examples)))
    return found
