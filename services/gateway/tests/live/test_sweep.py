"""The sweep visits every socket once a second in slices, so that a storm of sockets due
their heartbeat at once is pinged over a second, never in one pass."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any, cast

import pytest
from pulse_gateway.live.frames import (
    CLOSE_HEARTBEAT_MISSED,
    CLOSE_UNAUTHENTICATED,
    FrameCodec,
)
from pulse_gateway.live.registry import SWEEP_SLICES, SocketRegistry
from pulse_gateway.live.session import SocketClient
from pulse_gateway.settings import WebSocketSettings
from pulse_runtime.access_tokens import AccessClaims


class _Revocations:
    """The one question the sweep asks of the key ring."""

    def __init__(self) -> None:
        self.revoked: set[str] = set()

    def is_revoked(self, claims: AccessClaims) -> bool:
        return claims.jti in self.revoked


class _Socket:
    """What the sweep reads and calls on a socket client."""

    def __init__(self, number: int, *, exp: float) -> None:
        now = int(time.time())
        self.claims = AccessClaims(
            sub="u", email="u@example.com", role="user", iat=now, exp=int(exp), jti=f"t{number}"
        )
        self.close_code: int | None = None
        self.last_heard = time.monotonic()
        self.last_ping = time.monotonic() - 3600.0  # a heartbeat is due
        self.pinged_at: list[float] = []

    def send_shared(self, _frame: object) -> None:
        self.pinged_at.append(time.monotonic())

    def close(self, code: int, _reason: str) -> None:
        if self.close_code is None:  # as a real client: the first close wins
            self.close_code = code


def _registry(keyring: _Revocations) -> SocketRegistry:
    return SocketRegistry(
        hub=cast(Any, None),
        reader=cast(Any, None),
        keyring=cast(Any, keyring),
        class_owners=cast(Any, None),
        frames=FrameCodec(),
        settings=WebSocketSettings(heartbeat_s=20.0),
    )


def _add(registry: SocketRegistry, sockets: list[_Socket]) -> None:
    clients = registry._clients
    clients.update(cast(list[SocketClient], sockets))


async def test_sockets_due_at_once_are_pinged_over_a_second_each_exactly_once() -> None:
    registry = _registry(_Revocations())
    sockets = [_Socket(n, exp=time.time() + 3600) for n in range(1_000)]
    _add(registry, sockets)
    started = time.monotonic()
    registry.start()
    try:
        await asyncio.sleep(1.3)
    finally:
        await registry.stop()
    assert all(len(s.pinged_at) == 1 for s in sockets)
    moments = sorted(s.pinged_at[0] - started for s in sockets)
    passes = 1 + sum(1 for a, b in itertools.pairwise(moments) if b - a > 0.05)
    assert passes == SWEEP_SLICES  # ten passes 100 ms apart, a tenth of the sockets each
    assert moments[-1] - moments[0] >= 0.8


async def test_lapsed_tokens_and_silent_clients_are_closed_within_a_second() -> None:
    keyring = _Revocations()
    registry = _registry(keyring)
    revoked = _Socket(1, exp=time.time() + 3600)
    keyring.revoked.add(revoked.claims.jti)
    expired = _Socket(2, exp=time.time() - 1)
    silent = _Socket(3, exp=time.time() + 3600)
    silent.last_heard -= 60.0
    healthy = _Socket(4, exp=time.time() + 3600)
    _add(registry, [revoked, expired, silent, healthy])
    registry.start()
    try:
        await asyncio.sleep(1.2)
    finally:
        await registry.stop()
    assert revoked.close_code == CLOSE_UNAUTHENTICATED
    assert expired.close_code == CLOSE_UNAUTHENTICATED
    assert silent.close_code == CLOSE_HEARTBEAT_MISSED
    assert healthy.close_code != CLOSE_UNAUTHENTICATED  # stop() closes it with 1012 only
    assert len(healthy.pinged_at) == 1


@pytest.mark.parametrize("count", [0, 3])
async def test_fewer_sockets_than_slices_are_swept_too(count: int) -> None:
    registry = _registry(_Revocations())
    sockets = [_Socket(n, exp=time.time() + 3600) for n in range(count)]
    _add(registry, sockets)
    registry.start()
    try:
        await asyncio.sleep(1.2)
    finally:
        await registry.stop()
    assert all(len(s.pinged_at) == 1 for s in sockets)
