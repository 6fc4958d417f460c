"""The alerts service: answers ``rpc.alerts.*`` (every replica, in a queue group) and, on the
one replica that holds the evaluator's lock, evaluates the rules on the live streams
(:mod:`.evaluation.leader`)."""

from __future__ import annotations

import asyncio

import msgspec
from pulse_contracts import RpcError, decode_untrusted, subjects
from pulse_contracts.notifications import ALERTS_VERBS, AlertsReply, AlertsRequest
from pulse_runtime.database import answered
from pulse_runtime.logging import get_logger
from pulse_runtime.service import Lifecycle
from pulse_runtime.telemetry import counter
from pulse_runtime.verbs import VerbResponder
from pulse_runtime.worker import OwnedDatabase, Worker

from .directory import Directory, Unavailable
from .evaluation.leader import EvaluationLoop
from .rules import Rulebook, RuleStore
from .schema import migrate
from .settings import Settings

log = get_logger(__name__)


class AlertsService(Worker):
    def __init__(self, settings: Settings) -> None:
        super().__init__(
            "alerts",
            settings.common,
            settings.alerts,
            database=OwnedDatabase(
                settings.database, pool_size=settings.alerts.pool_size, migrate=migrate
            ),
            audit=settings.audit,
        )
        self.settings = settings
        self.rulebook: Rulebook | None = None
        self.evaluation: EvaluationLoop | None = None
        self._evaluating: asyncio.Task[None] | None = None
        self._stop_evaluating = asyncio.Event()
        self._requests: msgspec.msgpack.Decoder[AlertsRequest] = msgspec.msgpack.Decoder(
            AlertsRequest
        )
        self.verbs = VerbResponder(
            subjects.RPC_ALERTS,
            ALERTS_VERBS.values(),
            queue=subjects.ALERTS_QUEUE,
            workers=settings.alerts.rpc_workers,
            reply_for=self._reply_for,
            pack=self.codec.pack,
            requests=counter(
                self.registry,
                "pulse_alerts_requests_total",
                "rpc.alerts requests",
                ("verb", "outcome"),
            ),
        )
        self.broker.include_router(self.verbs.router())

    async def _reply_for(self, verb: str, data: bytes, _traceparent: str | None) -> AlertsReply:
        if self.rulebook is None:  # subscribed a moment before start_work made it
            return RpcError(code="unavailable", message="the alerts service is starting; retry")
        try:
            request = decode_untrusted(self._requests, data)
        except msgspec.ValidationError as exc:
            return RpcError(code="bad_rule", message=str(exc))
        except msgspec.DecodeError as exc:
            return RpcError(code="bad_request", message=str(exc))
        if ALERTS_VERBS[type(request)] != verb:
            return RpcError(code="bad_request", message=f"rpc.alerts.{verb} does not take that")
        rulebook = self.rulebook

        async def work() -> AlertsReply:
            try:
                return await rulebook.handle(request)
            except Unavailable as exc:
                log.warning("persistence unanswered", error=str(exc))
                return RpcError(code="unavailable", message="series or classes unavailable; retry")

        return await answered(work, failed="the alerts service failed")

    async def start_work(self, lifecycle: Lifecycle) -> bool:
        assert self.database is not None
        own = self.settings.alerts
        directory = Directory(
            self.broker.connection,
            self.codec,
            timeout_s=own.notify_timeout_s,
            catalog_ttl_s=own.catalog_ttl_s,
        )
        self.rulebook = Rulebook(RuleStore(self.database.pool), directory)
        self.evaluation = EvaluationLoop(
            own,
            database_url=self.settings.database.url,
            nats=self.broker.connection,
            codec=self.codec,
            directory=directory,
            registry=self.registry,
        )
        self._evaluating = asyncio.create_task(
            self.evaluation.run(self._stop_evaluating), name="alerts:evaluation"
        )
        return True

    async def finish_work(self) -> None:
        """The evaluator writes what it holds and lets the lock go: a standby takes over."""
        self._stop_evaluating.set()
        if self._evaluating is not None:
            await self._evaluating
