"""The one replica that evaluates the rules; every other one stands by.

Why a PostgreSQL advisory lock held on a connection of its own:

- Two evaluators would both see a series cross its threshold and both fire it, each with its
  own ``fired_at`` and so its own dedupe key: two notifications. Dedupe keys make a *retried*
  send a no-op; only a single evaluator makes the *decision* once.
- The lock lives exactly as long as the session that took it. A replica killed (even with
  ``kill -9``) closes its socket and PostgreSQL releases the lock at once; a standby, trying
  every ``standby_poll_s``, takes over within that. No lease to tune, no clock to trust, and
  the database the state lives in is the one arbiter: no other moving part (a NATS KV lease
  would be a second source of truth beside the rows it guards).
- The alerts' state is written on that same connection (:mod:`.state`): a replica whose
  session is gone has lost the lock *and* cannot write, and it sends a notification only for
  a state it has written. When the connection fails, the replica stops evaluating and goes
  back to standing by; the one that takes over reads the state from the table.
- A standby subscribes to nothing: the live streams cost it nothing until it leads.

The evaluator reads the core ``live.metrics.>`` and ``live.events.>`` republishes of the
METRICS and EVENTS streams rather than a JetStream consumer: it only needs the present, a
missed batch during a failover is replaced by the next second's, and no consumer state has to
follow the lock from replica to replica. The state that matters (pending since, firing, sent)
is in the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import zlib
from collections.abc import Callable

import asyncpg
import msgspec
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from prometheus_client import CollectorRegistry
from pulse_contracts import Codec, SeriesBatch, subjects
from pulse_contracts.classroom import ClassEvents
from pulse_runtime.logging import get_logger
from pulse_runtime.telemetry import counter, gauge

from pulse_alerts.directory import Directory, Unavailable
from pulse_alerts.rules import load_rules, rules_version
from pulse_alerts.settings import AlertsSettings

from .alerts import Alert, AlertKey
from .evaluator import Evaluator
from .notices import Notifier, notice
from .state import load_alerts, write_alerts

log = get_logger(__name__)

LOCK_KEY = zlib.crc32(b"pulse-alerts-evaluator")
QUERY_TIMEOUT_S = 10.0
LOST = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)
"""What ends a lead: the connection (and with it the lock) is gone or unusable."""


class EvaluationLoop:
    def __init__(
        self,
        settings: AlertsSettings,
        *,
        database_url: str,
        nats: Client,
        codec: Codec,
        directory: Directory,
        registry: CollectorRegistry,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._database_url = database_url
        self._nats = nats
        self._codec = codec
        self._directory = directory
        self._notifier = Notifier(nats, codec, settings.notify_timeout_s)
        self._clock = clock
        self.evaluator = Evaluator()
        self._outbox: dict[AlertKey, Alert] = {}
        """The written alerts that owe a notification."""
        self._wake = asyncio.Event()
        self._batches = msgspec.msgpack.Decoder(SeriesBatch)
        self._events = msgspec.msgpack.Decoder(ClassEvents)
        self._leading = gauge(registry, "pulse_alerts_leading", "1 on the evaluating replica")
        self._sent = counter(
            registry, "pulse_alerts_notifications_total", "Notifications sent", ("what", "outcome")
        )
        self._observed = counter(
            registry, "pulse_alerts_batches_total", "Live messages evaluated", ("stream",)
        )

    async def run(self, stopping: asyncio.Event) -> None:
        """Stand by, lead while the lock is held, stand by again when it is lost."""
        while not stopping.is_set():
            conn = await self._acquire(stopping)
            if conn is None:
                return
            log.info("evaluating the alert rules (this replica holds the lock)")
            self._leading.set(1)
            subscriptions: list[Subscription] = []
            try:
                await self._lead(conn, stopping, subscriptions)
            except LOST as exc:
                log.warning("lost the evaluator's connection; standing by", error=str(exc))
            except Exception:  # a bug: let the lock go, so that this or another replica retries
                log.exception("the evaluator failed; standing by")
                await asyncio.sleep(self._settings.standby_poll_s)
            finally:
                self._leading.set(0)
                for subscription in subscriptions:
                    with contextlib.suppress(Exception):
                        await subscription.unsubscribe()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(conn.close(), timeout=2)
                if not conn.is_closed():
                    conn.terminate()

    async def _acquire(self, stopping: asyncio.Event) -> asyncpg.Connection | None:
        conn: asyncpg.Connection | None = None
        while not stopping.is_set():
            try:
                if conn is None or conn.is_closed():
                    conn = await asyncpg.connect(self._database_url, timeout=QUERY_TIMEOUT_S)
                if await conn.fetchval(
                    "SELECT pg_try_advisory_lock($1)", LOCK_KEY, timeout=QUERY_TIMEOUT_S
                ):
                    return conn
            except LOST as exc:
                log.warning("cannot reach the database to stand by", error=str(exc))
                if conn is not None:
                    conn.terminate()
                conn = None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=self._settings.standby_poll_s)
        if conn is not None:
            conn.terminate()
        return None

    async def _lead(
        self, conn: asyncpg.Connection, stopping: asyncio.Event, subscriptions: list[Subscription]
    ) -> None:
        version = await self._load(conn)
        await self._seed_silences()
        next_plans = 0.0
        subscriptions.append(
            await self._nats.subscribe(
                subjects.live_subject(subjects.METRICS_SUBJECTS), cb=self._on_metrics
            )
        )
        subscriptions.append(
            await self._nats.subscribe(
                subjects.live_subject(subjects.EVENTS_SUBJECTS), cb=self._on_events
            )
        )
        next_tick = 0.0
        retry_sends_at = 0.0
        while not stopping.is_set():
            now = time.monotonic()
            if now >= next_tick:
                next_tick = now + self._settings.tick_s
                current = await rules_version(conn)
                if current != version:
                    await self._flush(conn)
                    version = await self._load(conn)
                if now >= next_plans:
                    next_plans = now + self._settings.class_refresh_s
                    await self._refresh_plans()
                self.evaluator.tick(self._clock())
            await self._flush(conn)
            if self._outbox and now >= retry_sends_at and not await self._send():
                retry_sends_at = now + self._settings.tick_s
            self._wake.clear()
            timeout = max(0.0, next_tick - time.monotonic())
            wait_stop = asyncio.ensure_future(stopping.wait())
            wait_wake = asyncio.ensure_future(self._wake.wait())
            await asyncio.wait(
                {wait_stop, wait_wake}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            wait_stop.cancel()
            wait_wake.cancel()
        await self._flush(conn)

    async def _load(self, conn: asyncpg.Connection) -> int:
        version = await rules_version(conn)
        rules = await load_rules(conn)
        alerts = await load_alerts(conn)
        self.evaluator.load(rules, alerts)
        self._outbox = {
            alert.key: alert.snapshot() for alert in self.evaluator.alerts.values() if alert.unsent
        }
        log.info("rules loaded", rules=len(self.evaluator.rules), alerts=len(self.evaluator.alerts))
        return version

    async def _seed_silences(self) -> None:
        try:
            series = await self._directory.series()
        except Unavailable as exc:
            log.warning("no catalog for the no-data rules' last points", error=str(exc))
            return
        for info in series:
            if info.latest_time is not None:
                self.evaluator.seed_last_seen(info.name, info.source, info.latest_time.timestamp())

    async def _refresh_plans(self) -> None:
        for class_id in list(self.evaluator.classes):
            if not self.evaluator.watches_class(class_id):
                continue
            try:
                info = await self._directory.class_info(class_id)
            except Unavailable as exc:
                log.warning("class plan not refreshed", class_id=class_id, error=str(exc))
                continue
            self.evaluator.set_plan(class_id, info.planned_cells if info is not None else None)

    async def _flush(self, conn: asyncpg.Connection) -> None:
        changes = self.evaluator.take_dirty()
        if not changes:
            return
        await write_alerts(conn, changes, QUERY_TIMEOUT_S)
        for key, alert in changes:
            if alert is not None and alert.unsent:
                self._outbox[key] = alert
            else:
                self._outbox.pop(key, None)

    async def _send(self) -> bool:
        """Send what the written alerts owe; False when the notifier must be tried again."""
        for key, alert in list(self._outbox.items()):
            rule = self.evaluator.rules.get(alert.rule_id)
            if rule is None:  # deleted or disabled meanwhile
                self._outbox.pop(key, None)
                continue
            if not alert.fire_sent:
                ok = await self._notifier.create(notice(rule, alert, resolved=False))
                self._sent.labels(what="fire", outcome="ok" if ok else "retry").inc()
                if not ok:
                    return False
                alert.fire_sent = True
                self.evaluator.mark_sent(key, alert.fired_at, "fire")
                log.info(
                    "alert fired", rule_id=alert.rule_id, series=alert.series, value=alert.value
                )
            if alert.state == "resolved":
                ok = await self._notifier.create(notice(rule, alert, resolved=True))
                self._sent.labels(what="resolve", outcome="ok" if ok else "retry").inc()
                if not ok:
                    return False
                self.evaluator.mark_sent(key, alert.fired_at, "resolve")
                log.info("alert resolved", rule_id=alert.rule_id, series=alert.series)
            if self._outbox.get(key) is alert:
                del self._outbox[key]
        self._wake.set()  # the marks are written by the next flush
        return True

    async def _on_metrics(self, msg: Msg) -> None:
        metric = msg.subject.rpartition(".")[2]
        if not self.evaluator.watches_metric(metric):
            return
        try:
            batch = self._batches.decode(msg.data)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return
        if batch.imported:
            return  # a bulk import's history: last month's values say nothing about now
        self._observed.labels(stream="metrics").inc()
        self.evaluator.observe_batch(
            batch.source, batch.name, batch.times_us, batch.values, self._clock()
        )
        if self.evaluator.has_dirty:
            self._wake.set()

    async def _on_events(self, msg: Msg) -> None:
        class_id = msg.subject.rpartition(".")[2]
        if not self.evaluator.watches_class(class_id):
            return
        try:
            batch = self._events.decode(msg.data)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return
        self._observed.labels(stream="events").inc()
        self.evaluator.observe_events(batch.class_id, batch.events, self._clock())
        if self.evaluator.has_dirty:
            self._wake.set()
