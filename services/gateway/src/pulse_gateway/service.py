"""The gateway service: its NATS connection, the live machinery, and the HTTP server."""

from __future__ import annotations

from pulse_contracts import Codec
from pulse_runtime.audit import AuditRecorder, TaskLog
from pulse_runtime.auth_client import AuthClient
from pulse_runtime.health import HealthListener
from pulse_runtime.http_server import HttpServer
from pulse_runtime.logging import get_logger
from pulse_runtime.messaging import create_broker, is_connected, start_broker
from pulse_runtime.service import Lifecycle
from pulse_runtime.telemetry import counter, gauge, new_registry
from pulse_runtime.web import RequestLatency
from pulse_runtime.worker import start_recorder

from pulse_gateway.alerts import alerts_client
from pulse_gateway.audit import audit_client
from pulse_gateway.classroom import ClassroomClient
from pulse_gateway.identity.keyring import KeyRing
from pulse_gateway.live.class_access import ClassOwners
from pulse_gateway.live.direct import expose_websocket_protocol
from pulse_gateway.live.fanout import ChannelHub, RecentPolicy
from pulse_gateway.live.frames import FrameCodec
from pulse_gateway.live.registry import SocketRegistry
from pulse_gateway.live.replay import StreamReader
from pulse_gateway.metrics.history import HistoryClient
from pulse_gateway.notifications import notifier_client

from .app import create_app, served
from .settings import Settings

log = get_logger(__name__)


class GatewayService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.codec = Codec()
        self.registry = new_registry()
        self.broker = create_broker(settings.common, "gateway", self.registry)
        self.audit = AuditRecorder("gateway", settings.audit, self.registry)
        self.tasks = TaskLog(self.audit, service="gateway")
        self.latency = RequestLatency(self.registry, "gateway")
        self.management = HealthListener(
            host=settings.gateway.metrics_host,
            port=settings.gateway.metrics_port,
            readiness=self.readiness,
            registry=self.registry,
        )
        self.hub: ChannelHub | None = None
        self.sockets: SocketRegistry | None = None
        self.keyring: KeyRing | None = None
        self.server: HttpServer | None = None

    async def readiness(self) -> dict[str, bool]:
        keys = self.keyring is not None and self.keyring.has_keys()
        return {"nats": is_connected(self.broker), "auth_keys": keys}

    async def start(self, lifecycle: Lifecycle) -> bool:
        await self.management.start()
        start_recorder(self.audit, self.broker)
        # Streams are ingest's and persistence's to create (with METRICS' and EVENTS'
        # republishing to live.>, which the fan-out reads); the gateway has no right to change them.
        if not await start_broker(self.broker, lifecycle.stopping):
            return False
        own = self.settings.gateway
        nats = self.broker.connection
        history = HistoryClient(
            nats, self.codec, timeout_s=own.query_timeout_s, max_points=own.max_query_points
        )
        auth = AuthClient(nats, self.codec, timeout_s=own.auth_timeout_s)
        self.keyring = KeyRing(nats, self.codec, auth)
        await self.keyring.start()
        ws = self.settings.websocket
        reader = StreamReader(
            nats.jetstream(),
            concurrency=ws.replay_concurrency,
            bounds_ttl_s=ws.stream_bounds_ttl_s,
        )
        frames = FrameCodec()
        recent = RecentPolicy(frames=ws.resume_frames, window_s=ws.resume_window_s)
        self.hub = channels = ChannelHub(nats, reader, frames, recent)
        closes = counter(
            self.registry,
            "pulse_gateway_ws_closed_total",
            "Sockets the gateway closed, by close code (4408: slow consumer)",
            ("code",),
        )
        self.sockets = SocketRegistry(
            hub=channels,
            reader=reader,
            keyring=self.keyring,
            class_owners=ClassOwners(
                nats, timeout_s=own.query_timeout_s, ttl_s=ws.class_owner_ttl_s
            ),
            frames=frames,
            settings=self.settings.websocket,
            metrics_outbox_frames=own.client_queue_size,
            on_close=lambda code: closes.labels(code=str(code)).inc(),
            audit=self.audit if self.settings.access.access_log else None,
        )
        self._register_sockets(self.sockets, channels)
        self._register_resumes(channels, reader)
        self.sockets.start()
        app = create_app(
            settings=own,
            history=history,
            hub=self.hub,
            sockets=self.sockets,
            keyring=self.keyring,
            auth=auth,
            readiness=self.readiness,
            classes=ClassroomClient(nats, self.codec, timeout_s=own.query_timeout_s),
            notifier=notifier_client(nats, self.codec, timeout_s=own.query_timeout_s),
            rules=alerts_client(nats, self.codec, timeout_s=own.query_timeout_s),
            trail=audit_client(nats, self.codec, timeout_s=own.query_timeout_s),
            audit=self.audit,
        )
        self.server = HttpServer(
            expose_websocket_protocol(served(app, self.settings.access, self.latency)),
            host=own.host,
            port=own.port,
            limits=self.settings.clients,
            ws_max_size=self.settings.websocket.max_frame_bytes,
            # The /ws heartbeat (a frame the client must answer) finds dead peers; a protocol
            # ping task per socket would only cost memory. Frames are shared between sockets
            # (live/direct.py), which per-socket compression would rule out.
            ws_ping_interval=None,
            ws_per_message_deflate=False,
        )
        if not await self.server.start():
            return False
        self.management.mark_started()
        log.info("gateway listening", url=f"http://{own.host}:{own.port}/")
        return True

    def _register_sockets(self, sockets: SocketRegistry, channels: ChannelHub) -> None:
        gauge(
            self.registry, "pulse_gateway_ws_sockets", "Open /ws and /ws/metrics sockets"
        ).set_function(lambda: len(sockets))
        gauge(
            self.registry,
            "pulse_gateway_live_channels",
            "Live channels, each with one NATS subscription however many clients watch it",
        ).set_function(channels.channel_count)
        gauge(
            self.registry,
            "pulse_gateway_live_clients",
            "Channel subscriptions of /ws sockets plus /ws/metrics clients",
        ).set_function(channels.listener_count)
        sent = sockets.frames_sent
        gauge(
            self.registry,
            "pulse_gateway_ws_frames_direct",
            "Data frames written straight to a caught-up socket (since start)",
        ).set_function(lambda: sent.direct)
        gauge(
            self.registry,
            "pulse_gateway_ws_frames_queued",
            "Data frames that waited in a socket's outbox (since start)",
        ).set_function(lambda: sent.queued)

    def _register_resumes(self, channels: ChannelHub, reader: StreamReader) -> None:
        gauge(
            self.registry,
            "pulse_gateway_live_channels_kept",
            "Channels no client watches, kept open for resumes (PULSE_WS_RESUME_WINDOW_S)",
        ).set_function(channels.kept_channel_count)
        gauge(
            self.registry,
            "pulse_gateway_ws_resumes_from_memory",
            "Resumes served from a channel's kept frames, no JetStream request (since start)",
        ).set_function(lambda: channels.resumes_from_memory)
        counts = reader.counts
        gauge(
            self.registry,
            "pulse_gateway_replay_reads",
            "Stream reads (a JetStream consumer each) since start: histories, resumes, repairs",
        ).set_function(lambda: counts.reads)
        gauge(
            self.registry,
            "pulse_gateway_replay_reads_peak",
            "The most queued stream reads at once since start (PULSE_WS_REPLAY_CONCURRENCY)",
        ).set_function(lambda: counts.peak)
        gauge(
            self.registry,
            "pulse_gateway_replay_reads_waiting",
            "Stream reads waiting for their turn",
        ).set_function(lambda: counts.waiting)
        gauge(
            self.registry,
            "pulse_gateway_replay_stream_info_requests",
            "STREAM.INFO requests for resumes' gap checks since start",
        ).set_function(lambda: counts.bounds_requests)

    async def stop(self) -> None:
        if self.sockets is not None:
            await self.sockets.stop()
        if self.server is not None:
            await self.server.stop()
        if self.hub is not None:
            await self.hub.close()
        if self.keyring is not None:
            await self.keyring.stop()
        await self.audit.stop()  # what is buffered, published while NATS is still there
        await self.broker.stop()
        self.audit.close()  # spools what was recorded while the broker drained
        await self.management.stop()
