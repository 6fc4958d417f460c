"""Settings from ``PULSE_*`` environment variables into frozen msgspec Structs.

Read once at start and passed down; nothing else reads the environment. A value of the wrong
type or out of its range raises :class:`SettingsError` naming the variable and the rule; entry
points read through :func:`settings_or_exit`, which prints that one line and exits with status 2.
"""

from __future__ import annotations

import ipaddress
import sys
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal, TypeVar

import msgspec

SettingsT = TypeVar("SettingsT", bound=msgspec.Struct)
T = TypeVar("T")

LogFormat = Literal["auto", "json", "console"]

# Ranges, checked when a value is read from the environment (not when a Struct is built in code).
Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
PositiveInt = Annotated[int, msgspec.Meta(ge=1)]
NonNegativeInt = Annotated[int, msgspec.Meta(ge=0)]
PositiveFloat = Annotated[float, msgspec.Meta(gt=0)]
NonNegativeFloat = Annotated[float, msgspec.Meta(ge=0)]

SETTINGS_ERROR_EXIT_STATUS = 2


class SettingsError(ValueError):
    """A ``PULSE_*`` variable holds a value its setting cannot take."""


class CommonSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What every service shares; read from ``PULSE_<FIELD>``."""

    nats_url: str = "nats://127.0.0.1:4222"
    """One NATS URL, or several separated by commas (the nodes of a cluster): the client picks
    one and moves to another when it is lost (the servers tell it of the rest as well)."""
    nats_ping_interval_s: PositiveInt = 10
    """How often the client pings its server; two pings unanswered and it moves to another node
    (a partitioned server closes no TCP connection, so this is how the loss is noticed)."""
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: LogFormat = "auto"
    # JetStream's own conventions: a max age of 0 and max bytes of -1 mean no limit, and a
    # duplicate window of 0 the server's default (2 minutes).
    stream_max_age_s: NonNegativeFloat = 7 * 24 * 3600.0
    stream_max_bytes: Annotated[int, msgspec.Meta(ge=-1)] = 1 << 30
    stream_duplicate_window_s: NonNegativeFloat = 120.0
    deadletter_max_age_s: NonNegativeFloat = 30 * 24 * 3600.0
    logs_max_age_s: NonNegativeFloat = 7 * 24 * 3600.0
    """How long LOGS keeps audit batches (persistence stores them; the stream is the way)."""
    stream_replicas: Annotated[int, msgspec.Meta(ge=1, le=5)] = 1
    """Copies of every stream Pulse creates (JetStream's R): 3 on a 3-node cluster, so that a
    node's loss loses nothing; durable consumers take their stream's. At most the cluster's
    size (JetStream refuses more)."""
    shutdown_timeout_s: PositiveFloat = 20.0

    @property
    def nats_servers(self) -> list[str]:
        """``nats_url`` as the client's server list (nats-py takes a list, not commas)."""
        return [url.strip() for url in self.nats_url.split(",") if url.strip()]

    def __post_init__(self) -> None:
        # JetStream refuses such a stream at start, with a less helpful message.
        for max_age_s, variable in (
            (self.stream_max_age_s, "PULSE_STREAM_MAX_AGE_S"),
            (self.deadletter_max_age_s, "PULSE_DEADLETTER_MAX_AGE_S"),
            (self.logs_max_age_s, "PULSE_LOGS_MAX_AGE_S"),
        ):
            if 0 < max_age_s < self.stream_duplicate_window_s:
                raise ValueError(
                    f"PULSE_STREAM_DUPLICATE_WINDOW_S={self.stream_duplicate_window_s:g} is longer"
                    f" than {variable}={max_age_s:g}: a message cannot be remembered for longer"
                    " than it is kept"
                )


class DatabaseSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``PULSE_DATABASE_URL``: for the services that own a schema (persistence, auth)."""

    url: str = "postgresql://pulse@127.0.0.1:5432/pulse"


class AuditSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``PULSE_AUDIT_*``: the audit trail's recorder in every service (docs/audit.md), and how
    long persistence keeps what it stored."""

    buffer_records: PositiveInt = 10_000
    """Records waiting to be published; more are dropped (and counted)."""
    batch_records: PositiveInt = 500
    """Records per LOGS message at most."""
    batch_bytes: Annotated[int, msgspec.Meta(ge=1024)] = 512 * 1024
    """A LOGS message's size at most; keep it under NATS' max_payload (1 MB by default)."""
    flush_interval_s: PositiveFloat = 0.5
    """How often the buffer is published when it does not fill a batch sooner."""
    publish_timeout_s: PositiveFloat = 2.0
    spool_dir: str = ".data/audit-spool"
    """Where batches NATS did not take wait (a directory per service under it)."""
    spool_max_bytes: NonNegativeInt = 64 << 20
    """The spool's cap; 0: no spool (batches NATS did not take are dropped and counted)."""
    stop_timeout_s: PositiveFloat = 5.0
    """At shutdown, how long to try publishing what is buffered before spooling the rest."""
    retention_s: NonNegativeFloat = 30 * 24 * 3600.0
    """How long persistence keeps access records and task steps; 0: for ever."""
    deadletter_retention_s: NonNegativeFloat = 30 * 24 * 3600.0
    """How long persistence keeps a replayed or discarded dead letter; 0: for ever."""
    retention_interval_s: PositiveFloat = 3600.0
    """How often persistence deletes what is past retention (plain PostgreSQL; TimescaleDB's
    own policies drop the audit tables' chunks)."""
    retention_batch_rows: PositiveInt = 10_000
    """Rows one DELETE takes at most, so a large backlog never holds a long transaction."""


class AccessLogSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``PULSE_ACCESS_LOG*`` and ``PULSE_TRUSTED_PROXIES``: the access log of the HTTP edge
    (the gateway and ingest: an audit record per request, ``pulse_runtime.web.access_log``),
    and whose ``X-Forwarded-For`` is believed."""

    access_log: bool = True
    """One :class:`~pulse_contracts.audit.AccessRecord` per request and per WebSocket session."""
    access_log_body_bytes: Annotated[int, msgspec.Meta(ge=0)] = 8 * 1024
    """A request or successful response body kept in a record at most; a bigger one is kept as
    a ``$truncated`` marker with a preview."""
    access_log_error_body_bytes: Annotated[int, msgspec.Meta(ge=0)] = 64 * 1024
    """An error answer's (status 400 and up) body kept at most: errors are kept in full."""
    trusted_proxies: list[str] = msgspec.field(default_factory=list)
    """Addresses or CIDRs (``10.0.0.0/8,127.0.0.1``) of the proxies in front of the service:
    only from a peer among them is ``X-Forwarded-For`` believed. Empty: from none."""

    def __post_init__(self) -> None:
        for entry in self.trusted_proxies:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"PULSE_TRUSTED_PROXIES: {entry!r} is not an address or a CIDR"
                ) from None


class ListenerSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``PULSE_<SERVICE>_HOST`` / ``PULSE_<SERVICE>_PORT``: where a service listens (a worker's
    ``/healthz``, ``/readyz`` and ``/metrics``; an edge service's HTTP API). Each service's own
    settings extend this and give ``port`` their default."""

    host: str = "127.0.0.1"
    port: Port

    @property
    def management(self) -> tuple[str, int]:
        """Where ``/healthz``, ``/readyz`` and ``/metrics`` are served: host and port."""
        return self.host, self.port


class EdgeListenerSettings(ListenerSettings, frozen=True, kw_only=True):
    """An edge service's two listeners: the HTTP API on ``host``/``port``, and ``/healthz``,
    ``/readyz`` and ``/metrics`` off the public port, on ``PULSE_<SERVICE>_METRICS_HOST`` /
    ``PULSE_<SERVICE>_METRICS_PORT``."""

    metrics_host: str = "127.0.0.1"
    metrics_port: Port

    @property
    def management(self) -> tuple[str, int]:
        return self.metrics_host, self.metrics_port


class ClientLimits(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What one HTTP client may hold of a service that faces clients: the gateway's
    ``PULSE_GATEWAY_*``, ingest's ``PULSE_INGEST_*`` (docs/operations.md, "Slow clients")."""

    header_timeout_s: PositiveFloat = 10.0
    """A request's head must arrive whole within this, counted from the connection's start or
    from the answer to the previous request; else 408 and the connection is closed."""
    body_timeout_s: PositiveFloat = 20.0
    """A body must arrive within this, plus a second per ``body_min_rate`` bytes received."""
    body_min_rate: NonNegativeInt = 500
    """Bytes per second a body must keep up on average to take longer than ``body_timeout_s``
    (Apache's mod_reqtimeout rule). 0: no body may take longer."""
    max_connections_per_client: NonNegativeInt = 256
    """Open connections per client address, WebSockets included; more are answered 429 and
    closed. 0: no cap (behind a proxy, where every client has the proxy's address)."""


def load_settings(
    settings_type: type[SettingsT], prefix: str, environ: Mapping[str, str]
) -> SettingsT:
    """Build ``settings_type`` from ``environ[prefix + FIELD]``, leaving unset fields at defaults.

    Strings are converted leniently ("8000" -> 8000, "true" -> True); lists take commas.
    A wrong value raises :class:`SettingsError` naming the variable and the rule, e.g.
    ``PULSE_GATEWAY_PORT='99999' is not valid: Expected `int` <= 65535``.
    """
    values: dict[str, Any] = {}
    for field in msgspec.structs.fields(settings_type):
        variable = f"{prefix}{field.name.upper()}"
        raw = environ.get(variable)
        if raw is None or raw == "":
            continue
        try:
            values[field.name] = msgspec.convert(
                _split_if_list(raw, field.type), field.type, strict=False
            )
        except msgspec.ValidationError as exc:
            reason = str(exc).split(" - at ", 1)[0]
            raise SettingsError(f"{variable}={raw!r} is not valid: {reason}") from None
    try:
        return msgspec.convert(values, settings_type)
    except msgspec.ValidationError as exc:  # a rule between settings (``__post_init__``)
        raise SettingsError(str(exc).split(" - at ", 1)[0]) from None


SHARED_PREFIXES: dict[type[msgspec.Struct], str] = {
    CommonSettings: "PULSE_",
    DatabaseSettings: "PULSE_DATABASE_",
    AuditSettings: "PULSE_AUDIT_",
    AccessLogSettings: "PULSE_",
}
"""The sections every service that has them reads from the same variables."""


def load_service_settings(
    settings_type: type[SettingsT], environ: Mapping[str, str], **prefixes: str
) -> SettingsT:
    """A service's ``Settings``: each of its fields a settings Struct, read with
    :func:`load_settings` from ``prefixes[field]`` (``persistence="PULSE_PERSISTENCE_"``), or,
    for the shared sections, from :data:`SHARED_PREFIXES` (``PULSE_``, ``PULSE_DATABASE_``)."""
    sections: dict[str, Any] = {}
    for field in msgspec.structs.fields(settings_type):
        prefix = prefixes.get(field.name) or SHARED_PREFIXES.get(field.type)
        if prefix is None:
            raise TypeError(f"no prefix for {settings_type.__name__}.{field.name}")
        sections[field.name] = load_settings(field.type, prefix, environ)
    return settings_type(**sections)


def _split_if_list(raw: str, field_type: Any) -> Any:
    origin = getattr(field_type, "__origin__", None)
    if origin in (list, tuple, frozenset, set):
        return [item.strip() for item in raw.split(",") if item.strip()]
    return raw


def settings_or_exit(read: Callable[[Mapping[str, str]], T], environ: Mapping[str, str]) -> T:
    """``read(environ)``; a :class:`SettingsError` ends the process with its one-line message on
    stderr and exit status 2 (a usage error), not a traceback."""
    try:
        return read(environ)
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(SETTINGS_ERROR_EXIT_STATUS) from None
