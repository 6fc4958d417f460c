"""The notifier: answers ``rpc.notify.*``, publishes every inbox change from its outbox to
NOTIFICATIONS, and sweeps expired notifications."""

from __future__ import annotations

import asyncio

import msgspec
from pulse_contracts import RpcError, decode_untrusted, subjects
from pulse_contracts.notifications import NOTIFY_VERBS, NotifyRequest
from pulse_runtime.auth_client import AuthClient
from pulse_runtime.database import answered
from pulse_runtime.logging import get_logger
from pulse_runtime.service import Lifecycle
from pulse_runtime.streams import pulse_streams
from pulse_runtime.telemetry import counter
from pulse_runtime.verbs import VerbResponder
from pulse_runtime.worker import OwnedDatabase, Worker

from .answers import Answers
from .inbox import InboxStore
from .outbox import OutboxPublisher
from .recipients import Directory
from .retention import sweep_forever
from .schema import migrate
from .settings import Settings

log = get_logger(__name__)


class NotifierService(Worker):
    def __init__(self, settings: Settings) -> None:
        own = settings.notifier
        super().__init__(
            "notifier",
            settings.common,
            own,
            # Only the stream it publishes to (its NATS user may create no other).
            streams=[
                stream
                for stream in pulse_streams(settings.common)
                if stream.name == subjects.NOTIFICATIONS_STREAM
            ],
            database=OwnedDatabase(settings.database, pool_size=own.pool_size, migrate=migrate),
            audit=settings.audit,
        )
        self.settings = settings
        self.answers: Answers | None = None
        self.publisher: OutboxPublisher | None = None
        self._auth: AuthClient | None = None
        self._requests_decoder = msgspec.msgpack.Decoder(NotifyRequest)
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._published = counter(
            self.registry,
            "pulse_notifier_changes_published_total",
            "inbox changes published to NOTIFICATIONS (acknowledged by JetStream)",
        )
        self.verbs = VerbResponder(
            subjects.RPC_NOTIFY,
            NOTIFY_VERBS.values(),
            queue=subjects.NOTIFY_QUEUE,
            workers=settings.notifier.rpc_workers,
            reply_for=self._reply_for,
            pack=self.codec.pack,
            requests=counter(
                self.registry,
                "pulse_notifier_requests_total",
                "rpc.notify requests",
                ("verb", "outcome"),
            ),
        )
        self.broker.include_router(self.verbs.router())

    async def _reply_for(self, verb: str, data: bytes, traceparent: str | None) -> object:
        answers = self.answers
        assert answers is not None
        try:
            request = decode_untrusted(self._requests_decoder, data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return RpcError(code="bad_request", message=str(exc))
        if NOTIFY_VERBS[type(request)] != verb:
            return RpcError(code="bad_request", message=f"rpc.notify.{verb} does not take that")
        return await answered(
            lambda: answers.handle(request, traceparent), failed="the notifier failed"
        )

    def _auth_client(self) -> AuthClient:
        """Made on first use: the broker's connection exists once it connected."""
        if self._auth is None:
            self._auth = AuthClient(
                self.broker.connection, self.codec, timeout_s=self.settings.notifier.auth_timeout_s
            )
        return self._auth

    async def _publish(self, subject: str, payload: bytes, headers: dict[str, str]) -> object:
        js = self.broker.config.connection_state.stream
        return await js.publish(
            subject, payload, timeout=self.settings.notifier.publish_timeout_s, headers=headers
        )

    async def prepare(self, lifecycle: Lifecycle) -> bool:
        assert self.database is not None
        own = self.settings.notifier
        self.publisher = OutboxPublisher(
            self.database.pool,
            self._publish,
            batch=own.outbox_batch,
            poll_s=own.outbox_poll_s,
            published=self._published.inc,
        )
        inboxes = InboxStore(self.database.pool, self.codec.pack, self.publisher.wake)
        directory = Directory(self._auth_client, page=own.directory_page)
        self.answers = Answers(directory, inboxes)
        return True

    async def start_work(self, lifecycle: Lifecycle) -> bool:
        assert self.publisher is not None
        assert self.database is not None
        own = self.settings.notifier
        self._tasks = [
            asyncio.create_task(self.publisher.run(self._stopping), name="outbox publisher"),
            asyncio.create_task(
                sweep_forever(
                    self.database.pool,
                    self.tasks,
                    self._stopping,
                    archived_days=own.archived_retention_days,
                    read_days=own.read_retention_days,
                    interval_s=own.sweep_interval_s,
                ),
                name="retention sweep",
            ),
        ]
        return True

    async def finish_work(self) -> None:
        """The publisher's last pass comes before the broker stops; requests still being
        answered may commit after it, and their changes are published at the next start."""
        self._stopping.set()
        for task in self._tasks:
            await task
