"""Which part answers each ``rpc.audit.*`` request (the admins' views of the audit trail:
docs/audit.md). The gateway checks the admin role before it asks; persistence trusts the bus.

Every request gets an answer: one that does not decode, or whose verb is not its subject's, is
``bad_request``; a cursor from elsewhere ``bad_cursor``; filters that cannot select anything
``bad_filter``; an id no letter has ``dead_letter_not_found``; a trace with nothing recorded
``trace_not_found``; the database away ``unavailable``.
"""

from __future__ import annotations

import asyncpg
import msgspec
from pulse_contracts import RpcError, decode_untrusted
from pulse_contracts.audit import (
    AUDIT_VERBS,
    AuditReply,
    AuditRequest,
    DiscardDeadLetters,
    GetTrace,
    ListDeadLetters,
    ReplayDeadLetters,
    SearchAccess,
    SearchTasks,
    ShowDeadLetter,
)
from pulse_runtime.database import answered

from .access_search import search_access
from .cursor import BadCursor
from .dead_letter_queue import discard_letters, list_letters, show_letter
from .filters import BadFilter
from .replay import DeadLetterReplays
from .task_search import search_tasks
from .trace_story import trace_story

MAX_ID = 2**63 - 1
"""``bigint``'s largest: an id beyond it is no letter's."""


class AuditAnswers:
    """:attr:`pool` and :attr:`replays` are set once the database is open (before NATS)."""

    def __init__(self) -> None:
        self._decoder = msgspec.msgpack.Decoder(AuditRequest)
        self.pool: asyncpg.Pool | None = None
        self.replays: DeadLetterReplays | None = None

    async def reply_for(self, verb: str, data: bytes, traceparent: str | None) -> object:
        try:
            request = decode_untrusted(self._decoder, data)
        except msgspec.DecodeError as exc:
            return RpcError(code="bad_request", message=str(exc))
        if AUDIT_VERBS[type(request)] != verb:
            return RpcError(code="bad_request", message=f"rpc.audit.{verb} does not take that")
        return await answered(
            lambda: self.handle(request, traceparent), failed=f"rpc.audit.{verb} failed"
        )

    async def handle(self, request: AuditRequest, traceparent: str | None = None) -> AuditReply:
        pool, replays = self.pool, self.replays
        assert pool is not None
        assert replays is not None
        answer: AuditReply
        try:
            match request:
                case SearchAccess():
                    answer = await search_access(pool, request)
                case SearchTasks():
                    answer = await search_tasks(pool, request)
                case GetTrace():
                    answer = await trace_story(pool, request)
                case ListDeadLetters():
                    answer = await list_letters(pool, request)
                case ShowDeadLetter() if request.id > MAX_ID:
                    answer = RpcError(
                        code="dead_letter_not_found", message=f"no dead letter {request.id}"
                    )
                case ShowDeadLetter():
                    answer = await show_letter(pool, request)
                case ReplayDeadLetters() | DiscardDeadLetters() if max(request.ids) > MAX_ID:
                    answer = RpcError(code="bad_request", message=f"ids are at most {MAX_ID}")
                case ReplayDeadLetters():
                    answer = await replays.replay(request, traceparent)
                case DiscardDeadLetters():
                    answer = await discard_letters(pool, request)
        except (BadCursor, BadFilter) as refused:
            answer = refused.refusal()
        return answer
