"""What the gateway's unit tests share, in place of the servers: access tokens signed with a
key made for the test, the scripted auth a key ring learns that key from (as it learns auth's
keys over NATS), NATS as a channel hub uses it (a subscription per live subject, whose
messages the test hands in), and a stream read back from a list.
(Imported as ``services.gateway.tests.support``; the fixtures are in ``conftest.py``.)
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
from pulse_contracts import SeriesBatch, subjects
from pulse_contracts.accounts import KeysRequest, PublicKeys, Revocation, Revocations
from pulse_gateway.live.replay import StoredMessage, StreamBounds, TooMuchToReplay
from pulse_runtime.access_tokens import AccessClaims, SigningKey, issue_access_token


class ScriptedAuth:
    """The two questions a key ring asks auth: its public keys, and its revocations."""

    def __init__(self, key: SigningKey) -> None:
        self.keys = [key.public_jwk()]
        self.revocations: list[Revocation] = []
        self.calls = 0

    async def call(self, request: object, expect: type[Any], traceparent: str | None = None) -> Any:
        self.calls += 1
        if isinstance(request, KeysRequest):
            return PublicKeys(keys=self.keys, access_token_ttl_s=900)
        return Revocations(revocations=list(self.revocations))


class Tokens:
    """Access tokens as auth issues them, for the test's users."""

    def __init__(self, key: SigningKey) -> None:
        self.key = key

    def claims(
        self,
        role: str = "user",
        *,
        user: str | None = None,
        lifetime_s: int = 900,
        expired_s_ago: int | None = None,
        version: int = 0,
    ) -> AccessClaims:
        now = int(time.time())
        exp = now - expired_s_ago if expired_s_ago is not None else now + lifetime_s
        sub = user or role
        return AccessClaims(
            sub=sub,
            email=f"{sub}@example.com",
            role=role,
            iat=min(now, exp - 1),
            exp=exp,
            jti=uuid.uuid4().hex,
            ver=version,
        )

    def sign(self, claims: AccessClaims) -> str:
        return issue_access_token(claims, self.key)

    def issue(self, role: str = "user", **claims: Any) -> str:
        return self.sign(self.claims(role, **claims))

    def forged(self, role: str = "admin") -> str:
        """Well formed, but signed with a key auth never published."""
        return issue_access_token(self.claims(role), SigningKey.generate())


# -- NATS and the streams, as the live channels use them -------------------------------------


def batch(source: str = "host1", name: str = "cpu", *values: float) -> SeriesBatch:
    """A stored series batch: its points one second apart from 2026-01-01T00:00:00Z."""
    start_us = 1_767_225_600_000_000
    return SeriesBatch(
        source=source,
        name=name,
        times_us=[start_us + i * 1_000_000 for i in range(len(values))],
        values=list(values),
        unit="%",
    )


@dataclass
class LiveMessage:
    """A message JetStream republished to ``live.<subject>``: the stored one and its place."""

    subject: str
    data: bytes
    headers: dict[str, str] | None


def republished(message: SeriesBatch, seq: int, previous: int = 0) -> LiveMessage:
    """``message`` as stored at ``seq``, the one before it on its subject at ``previous``."""
    subject = subjects.metrics_subject(message.source, message.name)
    headers = {"Nats-Sequence": str(seq), "Nats-Subject": subject}
    if previous:
        headers["Nats-Last-Sequence"] = str(previous)
    return LiveMessage(subjects.live_subject(subject), msgspec.msgpack.encode(message), headers)


@dataclass
class LiveSubscription:
    subject: str
    callback: Callable[[Any], Awaitable[None]]
    unsubscribed: bool = False

    async def unsubscribe(self) -> None:
        self.unsubscribed = True


@dataclass
class LiveNats:
    """What a channel hub asks of NATS: one subscription per live subject it opens."""

    subscriptions: list[LiveSubscription] = field(default_factory=list)
    flushed: list[int] = field(default_factory=list)  # subscriptions made at each flush

    async def subscribe(self, subject: str, cb: Callable[[Any], Awaitable[None]]) -> Any:
        subscription = LiveSubscription(subject, cb)
        self.subscriptions.append(subscription)
        return subscription

    async def flush(self) -> None:
        self.flushed.append(len(self.subscriptions))

    def open(self, subject: str) -> LiveSubscription:
        """The open subscription to ``subject`` (a live subject)."""
        [subscription] = [
            s for s in self.subscriptions if s.subject == subject and not s.unsubscribed
        ]
        return subscription

    async def publish(self, message: LiveMessage) -> None:
        """Deliver ``message`` as the server would: to every open subscription it matches."""
        for subscription in self.subscriptions:
            if not subscription.unsubscribed and _matches(subscription.subject, message.subject):
                await subscription.callback(message)


def _matches(pattern: str, subject: str) -> bool:
    """NATS subject matching: ``*`` one token, ``>`` the rest."""
    wanted, got = pattern.split("."), subject.split(".")
    for i, token in enumerate(wanted):
        if token == ">":
            return len(got) > i
        if i >= len(got) or token not in ("*", got[i]):
            return False
    return len(wanted) == len(got)


@dataclass
class StoredStream:
    """A stream read back from a list (what a ``StreamReader`` reads from JetStream)."""

    stored: list[StoredMessage[Any]] = field(default_factory=list)
    reads: list[dict[str, Any]] = field(default_factory=list)
    failure: Exception | None = None
    first_seq: int = 1

    def store(self, seq: int, message: SeriesBatch) -> None:
        subject = subjects.metrics_subject(message.source, message.name)
        self.stored.append(StoredMessage(seq, subject, message))

    async def bounds(self, stream: str) -> StreamBounds:
        last = max((m.seq for m in self.stored), default=0)
        return StreamBounds(first_seq=self.first_seq, last_seq=last)

    async def read(
        self, feed: Any, subject: str, *, max_messages: int, **where: Any
    ) -> AsyncIterator[StoredMessage[Any]]:
        self.reads.append({"subject": subject, "max_messages": max_messages, **where})
        if self.failure is not None:
            raise self.failure
        after = where.get("after_seq") or 0
        found = [m for m in self.stored if m.seq > after and _matches(subject, m.subject)]
        if len(found) > max_messages:
            raise TooMuchToReplay(len(found))
        for message in found:
            yield message
