"""The rules in ``alerts.rules``; every change bumps ``alerts.rules_version`` in its own
transaction, which is how the evaluator (on whichever replica holds the lock) learns of it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg
import msgspec
from pulse_contracts.notifications import AlertRule, Condition, Firing, Recipients
from pulse_contracts.notifications.rules import CellErrors, ClassBehind, StudentIdle

_COLUMNS = "id, name, condition, severity, recipients, enabled, owner_id, created_at, updated_at"
_condition = msgspec.json.Decoder(Condition)
_recipients = msgspec.json.Decoder(Recipients)
_BUMP = "UPDATE alerts.rules_version SET version = version + 1"


def class_of(condition: Condition) -> str | None:
    if isinstance(condition, CellErrors | StudentIdle | ClassBehind):
        return condition.class_id
    return None


def rule_from_row(row: asyncpg.Record) -> AlertRule:
    return AlertRule(
        id=str(row["id"]),
        name=row["name"],
        condition=_condition.decode(row["condition"]),
        severity=row["severity"],
        recipients=_recipients.decode(row["recipients"]),
        enabled=row["enabled"],
        owner_id=row["owner_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def parse_rule_id(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


async def load_rules(conn: asyncpg.Connection) -> list[AlertRule]:
    rows = await conn.fetch(f"SELECT {_COLUMNS} FROM alerts.rules ORDER BY created_at, id")
    return [rule_from_row(row) for row in rows]


async def rules_version(conn: asyncpg.Connection) -> int:
    version: int = await conn.fetchval("SELECT version FROM alerts.rules_version")
    return version


class RuleStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def create(
        self,
        *,
        name: str,
        condition: Condition,
        severity: str,
        recipients: Recipients,
        enabled: bool,
        owner_id: str,
    ) -> AlertRule:
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                f"INSERT INTO alerts.rules (id, name, condition, class_id, severity, recipients,"
                f" enabled, owner_id) VALUES ($1, $2, $3::jsonb, $4, $5, $6::jsonb, $7, $8)"
                f" RETURNING {_COLUMNS}",
                uuid.uuid4(),
                name,
                msgspec.json.encode(condition).decode(),
                class_of(condition),
                severity,
                msgspec.json.encode(recipients).decode(),
                enabled,
                owner_id,
            )
            await conn.execute(_BUMP)
        return rule_from_row(row)

    async def get(self, rule_id: str) -> AlertRule | None:
        key = parse_rule_id(rule_id)
        if key is None:
            return None
        row = await self._pool.fetchrow(f"SELECT {_COLUMNS} FROM alerts.rules WHERE id = $1", key)
        return None if row is None else rule_from_row(row)

    async def replace(self, rule: AlertRule, *, forget_state: bool) -> AlertRule:
        """Store ``rule``'s fields; ``forget_state``: its pending and firing series go too."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                f"UPDATE alerts.rules SET name = $2, condition = $3::jsonb, class_id = $4,"
                f" severity = $5, recipients = $6::jsonb, enabled = $7, updated_at = $8"
                f" WHERE id = $1 RETURNING {_COLUMNS}",
                uuid.UUID(rule.id),
                rule.name,
                msgspec.json.encode(rule.condition).decode(),
                class_of(rule.condition),
                rule.severity,
                msgspec.json.encode(rule.recipients).decode(),
                rule.enabled,
                datetime.now(UTC),
            )
            if forget_state:
                await conn.execute(
                    "DELETE FROM alerts.firing WHERE rule_id = $1", uuid.UUID(rule.id)
                )
            await conn.execute(_BUMP)
        return rule_from_row(row)

    async def delete(self, rule_id: str) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("DELETE FROM alerts.rules WHERE id = $1", uuid.UUID(rule_id))
            await conn.execute(_BUMP)

    async def listed(self, class_ids: list[str] | None) -> list[AlertRule]:
        """Every rule, or (``class_ids`` given) the rules on those classes."""
        if class_ids is None:
            rows = await self._pool.fetch(
                f"SELECT {_COLUMNS} FROM alerts.rules ORDER BY created_at, id"
            )
        else:
            rows = await self._pool.fetch(
                f"SELECT {_COLUMNS} FROM alerts.rules WHERE class_id = any($1::text[])"
                " ORDER BY created_at, id",
                class_ids,
            )
        return [rule_from_row(row) for row in rows]

    async def firings(self, rule_id: str) -> list[Firing]:
        rows = await self._pool.fetch(
            "SELECT series, state, since, last_value, fired_at FROM alerts.firing"
            " WHERE rule_id = $1 AND state <> 'resolved' ORDER BY series",
            uuid.UUID(rule_id),
        )
        return [
            Firing(
                series=row["series"],
                state=row["state"],
                since=row["since"],
                value=row["last_value"],
                fired_at=row["fired_at"],
            )
            for row in rows
        ]
