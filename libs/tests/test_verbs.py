"""A verb's answer that cannot be encoded is answered as an error at once, never left for the
asker to wait out until its timeout (a gateway's 504)."""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec
from prometheus_client import CollectorRegistry
from pulse_contracts import RpcError
from pulse_runtime.telemetry import counter
from pulse_runtime.verbs import UNENCODABLE, VerbResponder


@dataclass
class Request:
    """What :meth:`VerbResponder.answer` reads of a NATS request, and what it answered."""

    subject: str
    data: bytes = b""
    headers: dict[str, str] | None = None
    reply: str = "_INBOX.answer"
    answers: list[bytes] = field(default_factory=list)

    async def respond(self, data: bytes) -> None:
        self.answers.append(data)


async def test_an_answer_that_cannot_be_encoded_is_answered_unencodable() -> None:
    async def reply_for(verb: str, data: bytes, traceparent: str | None) -> object:
        return {"count": 10**30} if verb == "huge" else {"count": 1}

    registry = CollectorRegistry()
    responder = VerbResponder(
        "rpc.test",
        ["huge", "fine"],
        queue="test",
        workers=1,
        reply_for=reply_for,
        pack=msgspec.msgpack.encode,
        requests=counter(registry, "test_requests_total", "requests", ("verb", "outcome")),
    )
    huge, fine = Request("rpc.test.huge"), Request("rpc.test.fine")
    await responder.answer(huge)  # type: ignore[arg-type]
    await responder.answer(fine)  # type: ignore[arg-type]

    assert msgspec.msgpack.decode(huge.answers[0], type=RpcError) == UNENCODABLE
    assert msgspec.msgpack.decode(fine.answers[0]) == {"count": 1}
    value = registry.get_sample_value
    assert value("test_requests_total", {"verb": "huge", "outcome": "unencodable"}) == 1
    assert value("test_requests_total", {"verb": "fine", "outcome": "ok"}) == 1
