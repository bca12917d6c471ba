"""Which rows belong to a case: a walk over the metadata's foreign keys, not a hand list.

A row belongs to a case (and goes when the case is purged) when its table

- has a foreign key to ``cases`` or to another owned table with ``ON DELETE
  CASCADE`` (the schema already says the row cannot outlive its parent), or
- has a ``case_id`` column without a foreign key (the outbox), or
- is listed in :data:`OWNED_BY_REFERENCE`, with the reason.

A foreign key from a table that is *not* owned to an owned one must be ``SET
NULL`` (the row is detached, e.g. a person's identity version made through the
case) or the plan refuses to be built: a new table that would block or survive
a purge fails tests/retention/test_plan.py instead of leaving a half-purged case.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Column, MetaData, Table

ROOT = "cases"
#: Owned although their foreign key to the case is SET NULL, and why.
OWNED_BY_REFERENCE: dict[tuple[str, str], str] = {
    ("concerns", "case_id"): "the concern that opened or joined the case is the case's intake",
}


class PlanError(RuntimeError):
    pass


@dataclass(frozen=True)
class Edge:
    """``table.column`` points at ``parent``'s ``referred`` column: its primary key,
    or another unique column (a webhook delivery names its event by ``id``, while
    the outbox's primary key is its ``sequence``)."""

    column: str
    parent: str
    referred: str = "id"


@dataclass
class OwnedTable:
    table: Table
    #: Ways a row is tied to the case: edges to the root or to other owned tables.
    edges: list[Edge] = field(default_factory=list)
    #: Self-references (a note correcting a note): cleared before the delete.
    self_refs: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.table.name

    @property
    def key(self) -> Column[object]:
        (pk,) = self.table.primary_key.columns
        return pk


@dataclass
class CasePlan:
    #: Owned tables, parents before children (the root, ``cases``, first).
    owned: list[OwnedTable]
    #: (table, column) of rows outside the case that point into it: set to NULL.
    detach: list[tuple[Table, str]]

    def names(self) -> list[str]:
        return [o.name for o in self.owned]

    def table(self, name: str) -> OwnedTable:
        return next(o for o in self.owned if o.name == name)


def _is_owning(table: Table, column: str, ondelete: str | None) -> bool:
    return (ondelete or "").upper() == "CASCADE" or (table.name, column) in OWNED_BY_REFERENCE


def build_plan(metadata: MetaData) -> CasePlan:
    tables = metadata.sorted_tables  # parents before children
    owned: dict[str, OwnedTable] = {ROOT: OwnedTable(metadata.tables[ROOT])}
    changed = True
    while changed:
        changed = False
        for table in tables:
            if table.name == ROOT:
                continue
            edges = []
            for fk in table.foreign_keys:
                parent = fk.column.table.name
                if parent in owned and parent != table.name:
                    if _is_owning(table, fk.parent.name, fk.ondelete):
                        edges.append(Edge(fk.parent.name, parent, fk.column.name))
            if "case_id" in table.c and not table.c.case_id.foreign_keys:
                edges.append(Edge("case_id", ROOT))
            known = owned.get(table.name)
            if edges and (known is None or len(known.edges) != len(edges)):
                owned[table.name] = OwnedTable(table, edges)
                changed = True
    order = {t.name: i for i, t in enumerate(tables)}
    result = sorted(owned.values(), key=lambda o: order[o.name])
    detach: list[tuple[Table, str]] = []
    problems = []
    for table in tables:
        for fk in table.foreign_keys:
            parent = fk.column.table.name
            if parent not in owned:
                continue
            if table.name in owned:
                if parent == table.name:
                    owned[table.name].self_refs.append(fk.parent.name)
                continue
            if (fk.ondelete or "").upper() == "SET NULL":
                detach.append((table, fk.parent.name))
            else:
                problems.append(f"{table.name}.{fk.parent.name} -> {parent} ({fk.ondelete})")
    for item in result:
        if len(item.table.primary_key.columns) != 1:
            problems.append(f"{item.name} has no single-column primary key")
    if problems:
        raise PlanError(
            "rows outside a case would block or outlive its purge: " + "; ".join(problems)
        )
    return CasePlan(result, detach)
