"""``POST /api/v1/events`` and ``GET /api/v1/events/settings``: notebook events from producers
that speak HTTP, with an API key of scope ``ingest:events`` that names its class."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from pulse_contracts import subjects
from pulse_contracts.accounts import ApiKeyIdentity
from pulse_contracts.classroom import EventsAck, ProducerSettings
from pulse_runtime.logging import get_logger
from pulse_runtime.tracing import TRACEPARENT, traceparent_from
from pulse_runtime.web import current_traceparent

from pulse_ingest.documents import producer_upload
from pulse_ingest.refusals import Refused, refusals
from pulse_ingest.storing import NotStored

from .class_settings import ClassroomUnavailable, ClassSettingsCache
from .validation import InvalidEvents, TooManyEvents

log = get_logger(__name__)

API_KEY_STATE = "api_key"
"""Where the guard leaves the request's :class:`ApiKeyIdentity` (``request.state``)."""


IngestEvents = Callable[[bytes, str | None, str, str | None], Awaitable[int]]
"""``(body, content type, traceparent, class id)`` to how many events were stored (a plain
Callable: Litestar checks a dependency's type, and cannot check a Protocol)."""


def key_class(request: Request[Any, Any, Any]) -> str:
    """The class the request's API key names; 403 ``no_class`` for a key that names none."""
    identity: ApiKeyIdentity = request.state[API_KEY_STATE]
    if identity.class_id is None:
        raise Refused(
            403,
            "no_class",
            "this API key names no class: use the producer key of the class (its page in the"
            " dashboard, or POST /api/v1/classes/{class_id}/key)",
        )
    return identity.class_id


@post(
    "/api/v1/events",
    status_code=202,
    summary="Store notebook events of the API key's class",
    opt={"access": "ingest:events"},
    responses=refusals(400, 403, 413, 503),
    operation_class=producer_upload(
        subjects.INGEST_EVENTS, "One event or an array of 1-100 events"
    ),
)
async def post_events(
    request: Request[Any, Any, Any], ingest_events: NamedDependency[IngestEvents]
) -> EventsAck:
    """One event or an array of 1-100, JSON or msgpack (``Content-Type``). 202 once stored.

    Events are of the API key's class (one naming another ``classId`` is refused); the same
    event (``eventId``) sent again is stored once.
    """
    class_id = key_class(request)
    body = await request.body()
    traceparent = current_traceparent.get(None) or traceparent_from(
        {TRACEPARENT: request.headers.get(TRACEPARENT, "")}
    )
    try:
        accepted = await ingest_events(
            body, request.headers.get("content-type"), traceparent, class_id
        )
    except TooManyEvents as refused:
        raise Refused(413, "too_many_events", str(refused)) from None
    except InvalidEvents as refused:
        raise Refused(400, "invalid_events", str(refused), refused.errors) from None
    except NotStored as failed:
        cause = failed.__cause__
        log.error("events not stored", error=f"{type(cause).__name__}: {cause}")
        raise Refused(503, "not_stored", str(failed)) from None
    return EventsAck(accepted=accepted)


@get(
    "/api/v1/events/settings",
    summary="The producer settings of the API key's class",
    opt={"access": "ingest:events"},
    responses=refusals(403, 404, 503),
)
async def get_event_settings(
    request: Request[Any, Any, Any], class_settings: NamedDependency[ClassSettingsCache]
) -> ProducerSettings:
    """Whether to send the cell's code, and the salt for pseudonymised student ids
    (``HMAC-SHA256(salt, id)``) when the class asks for them."""
    class_id = key_class(request)
    try:
        found = await class_settings.settings(class_id)
    except ClassroomUnavailable as exc:
        log.warning("producer settings unavailable", class_id=class_id, error=str(exc))
        raise Refused(
            503, "classroom_unavailable", "the class's settings cannot be read right now"
        ) from None
    if found is None:
        raise Refused(404, "class_not_found", f"no class {class_id!r}")
    return found


EVENT_ROUTES = [post_events, get_event_settings]
