from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

Readiness = Callable[[], Awaitable[Mapping[str, bool]]]
