"""What the audit searches share: a ``WHERE`` built from the filters given (placeholders only,
never the values), the time range, and the refusals of filters that cannot mean anything."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pulse_contracts import RpcError


class BadFilter(Exception):
    """A filter that cannot select anything meaningful: answered ``bad_filter``."""

    def refusal(self) -> RpcError:
        return RpcError(code="bad_filter", message=str(self))


class Where:
    """Conditions joined by ``AND``, their values as ``$n`` parameters in order."""

    def __init__(self) -> None:
        self.conditions: list[str] = []
        self.values: list[Any] = []

    def param(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"

    def add(self, condition: str, *values: Any) -> None:
        """``condition`` with ``{}`` for each of ``values``, in order."""
        self.conditions.append(condition.format(*(self.param(value) for value in values)))

    def sql(self) -> str:
        return " AND ".join(self.conditions) if self.conditions else "true"


def utc(moment: datetime | None) -> datetime | None:
    """A time without an offset is taken as UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def time_range(where: Where, column: str, since: datetime | None, until: datetime | None) -> None:
    """``since <= column < until``, each bound when given."""
    since, until = utc(since), utc(until)
    if since is not None and until is not None and since >= until:
        raise BadFilter("'since' must be before 'until'")
    if since is not None:
        where.add(f"{column} >= {{}}", since)
    if until is not None:
        where.add(f"{column} < {{}}", until)


def like_prefix(prefix: str) -> str:
    """A ``LIKE … ESCAPE '\\'`` pattern matching text that starts with ``prefix``."""
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def status_range(status: int) -> tuple[int, int]:
    """``[low, high)`` of response statuses: a code (404) or a class (4 for 4xx)."""
    if 1 <= status <= 5:
        return status * 100, status * 100 + 100
    if 100 <= status <= 599:
        return status, status + 1
    raise BadFilter(f"status {status} is neither a code (100-599) nor a class (1-5)")
