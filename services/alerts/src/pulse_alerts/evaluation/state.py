"""The alerts in ``alerts.firing``, read at the start and written after every change.

Written on the evaluator's own connection, the one that holds the lock (:mod:`.leader`): a
replica that lost the lock has lost that connection too, so it cannot write a state, nor send
the notification that follows the write.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg

from .alerts import Alert, AlertKey

_UPSERT = """
INSERT INTO alerts.firing AS f (rule_id, series, state, since, last_value, fired_at, fire_sent,
                                resolved_at, resolve_sent)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (rule_id, series) DO UPDATE SET
    state = excluded.state, since = excluded.since, last_value = excluded.last_value,
    fired_at = excluded.fired_at, fire_sent = excluded.fire_sent,
    resolved_at = excluded.resolved_at, resolve_sent = excluded.resolve_sent
"""


def _moment(epoch_s: float | None) -> datetime | None:
    return None if epoch_s is None else datetime.fromtimestamp(epoch_s, UTC)


def _epoch(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


async def load_alerts(conn: asyncpg.Connection) -> list[Alert]:
    rows = await conn.fetch(
        "SELECT rule_id, series, state, since, last_value, fired_at, fire_sent, resolved_at,"
        " resolve_sent FROM alerts.firing"
    )
    return [
        Alert(
            rule_id=str(row["rule_id"]),
            series=row["series"],
            state=row["state"],
            since=row["since"].timestamp(),
            value=row["last_value"],
            fired_at=_epoch(row["fired_at"]),
            fire_sent=row["fire_sent"],
            resolved_at=_epoch(row["resolved_at"]),
            resolve_sent=row["resolve_sent"],
        )
        for row in rows
    ]


async def write_alerts(
    conn: asyncpg.Connection, changes: list[tuple[AlertKey, Alert | None]], timeout_s: float
) -> None:
    """The changed alerts, in one transaction (a rule deleted meanwhile: its rows are not
    written again)."""
    upserts = [
        (
            uuid.UUID(a.rule_id),
            a.series,
            a.state,
            _moment(a.since),
            a.value,
            _moment(a.fired_at),
            a.fire_sent,
            _moment(a.resolved_at),
            a.resolve_sent,
        )
        for _, a in changes
        if a is not None
    ]
    deletes = [(uuid.UUID(rule_id), series) for (rule_id, series), a in changes if a is None]
    async with conn.transaction():
        if deletes:
            await conn.executemany(
                "DELETE FROM alerts.firing WHERE rule_id = $1 AND series = $2",
                deletes,
                timeout=timeout_s,
            )
        if upserts:
            # Only for rules that still exist: a rule deleted by another replica meanwhile.
            await conn.execute("SET LOCAL lock_timeout = '5s'")
            existing = {
                str(row["id"])
                for row in await conn.fetch(
                    "SELECT id FROM alerts.rules WHERE id = any($1::uuid[]) FOR KEY SHARE",
                    list({row[0] for row in upserts}),
                    timeout=timeout_s,
                )
            }
            rows = [row for row in upserts if str(row[0]) in existing]
            if rows:
                await conn.executemany(_UPSERT, rows, timeout=timeout_s)
