"""JetStream streams, created or updated idempotently at start from settings."""

from __future__ import annotations

from nats.js.api import DiscardPolicy, RePublish, StorageType, StreamConfig
from nats.js.client import JetStreamContext
from nats.js.errors import BadRequestError
from pulse_contracts import subjects
from pulse_contracts.audit.subjects import LOGS_STREAM, LOGS_SUBJECTS

from .logging import get_logger
from .settings import CommonSettings

log = get_logger(__name__)


def pulse_streams(common: CommonSettings) -> list[StreamConfig]:
    """Every stream Pulse uses, with limits, duplicate window and replicas from settings."""

    def stream(
        name: str, subject: str, max_age_s: float, republish: RePublish | None = None
    ) -> StreamConfig:
        return StreamConfig(
            name=name,
            subjects=[subject],
            storage=StorageType.FILE,
            discard=DiscardPolicy.OLD,
            max_age=max_age_s,
            max_bytes=common.stream_max_bytes,
            duplicate_window=common.stream_duplicate_window_s,
            republish=republish,
            num_replicas=common.stream_replicas,
        )

    def live(subject: str) -> RePublish:
        return RePublish(src=subject, dest=subjects.live_subject(republished_tokens(subject)))

    return [
        stream(
            subjects.METRICS_STREAM,
            subjects.METRICS_SUBJECTS,
            common.stream_max_age_s,
            live(subjects.METRICS_SUBJECTS),
        ),
        stream(
            subjects.EVENTS_STREAM,
            subjects.EVENTS_SUBJECTS,
            common.stream_max_age_s,
            live(subjects.EVENTS_SUBJECTS),
        ),
        stream(
            subjects.DEADLETTER_STREAM, subjects.DEADLETTER_SUBJECTS, common.deadletter_max_age_s
        ),
        stream(
            subjects.NOTIFICATIONS_STREAM,
            subjects.NOTIFICATIONS_SUBJECTS,
            common.stream_max_age_s,
            live(subjects.NOTIFICATIONS_SUBJECTS),
        ),
        # The audit records on their way to persistence; republished for the admins' live
        # `logs` channel.
        stream(LOGS_STREAM, LOGS_SUBJECTS, common.logs_max_age_s, live(LOGS_SUBJECTS)),
    ]


def republished_tokens(subject: str) -> str:
    """``subject`` as a republish destination: each ``*`` becomes ``{{wildcard(n)}}``.

    nats-server takes a ``>`` as it is, but refuses a destination with a ``*`` ("republish
    with transform … not valid"): a single-token wildcard must be named by its position.
    """
    tokens = subject.split(".")
    wildcards = 0
    for index, part in enumerate(tokens):
        if part == "*":
            wildcards += 1
            tokens[index] = f"{{{{wildcard({wildcards})}}}}"
    return ".".join(tokens)


async def ensure_streams(js: JetStreamContext, configs: list[StreamConfig]) -> None:
    """Create each stream, or bring an existing one to this configuration.

    Safe when several replicas start at once: adding an identical stream is a no-op on the
    server, and a differing one is updated in place.
    """
    for config in configs:
        try:
            await js.add_stream(config)
        except BadRequestError:
            await js.update_stream(config)
            log.info("stream updated", stream=config.name)
