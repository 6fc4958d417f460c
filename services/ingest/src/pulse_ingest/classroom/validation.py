"""Producer input to validated class batches: one code path for events over HTTP and NATS.

msgspec checks each event against :class:`~pulse_contracts.classroom.NotebookEvent` (types,
UUID, aware time, lengths), then the contract's :func:`~pulse_contracts.classroom.events.refusal`
(class id and event type patterns, NUL); then Pulse's own rules: the batch size, the class (the API
key's over HTTP, the event's own ``classId`` on NATS), what a ``cell_executed`` event must
name, and the size of ``metadata`` as JSON. A refusal names every bad event (index, field,
reason), as for metric points.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec
from pulse_contracts import decode_untrusted, is_msgpack
from pulse_contracts.classroom import MAX_EVENTS_PER_BATCH, ClassEvents, NotebookEvent
from pulse_contracts.classroom.events import MAX_METADATA_BYTES, refusal

from pulse_ingest.validation import (
    MAX_REPORTED_ERRORS,
    ItemError,
    item_error,
    json_may_hold_nul,
    plainer,
)

CELL_EXECUTED = "cell_executed"
CELL_EXECUTED_NEEDS = (
    ("notebook_path", "notebookPath"),
    ("cell_id", "cellId"),
    ("cell_index", "cellIndex"),
)
_EMPTY_METADATA = b"{}"


class InvalidEvents(ValueError):
    """The whole message is refused; ``str(self)`` is the reason, ``errors`` the bad events."""

    def __init__(self, reason: str, errors: list[ItemError] | None = None) -> None:
        super().__init__(reason)
        self.errors = errors or []


class TooManyEvents(InvalidEvents):
    """More than :data:`MAX_EVENTS_PER_BATCH` events (HTTP answers 413)."""


class EventsValidator:
    def __init__(self, max_events: int = MAX_EVENTS_PER_BATCH) -> None:
        self._max_events = max_events
        arriving = NotebookEvent | list[NotebookEvent]
        self._json = msgspec.json.Decoder(arriving)
        self._msgpack = msgspec.msgpack.Decoder(arriving)
        self._json_items = msgspec.json.Decoder(list[msgspec.Raw])
        self._msgpack_items = msgspec.msgpack.Decoder(list[msgspec.Raw])
        self._json_event = msgspec.json.Decoder(NotebookEvent)
        self._msgpack_event = msgspec.msgpack.Decoder(NotebookEvent)
        self._encode_json: Callable[[object], bytes] = msgspec.json.Encoder().encode

    def validate(
        self, data: bytes, content_type: str | None, *, class_id: str | None = None
    ) -> list[ClassEvents]:
        """The events grouped by class, each class's in arrival order.

        ``class_id`` is the API key's class (HTTP): an event without ``classId`` is given it,
        one naming another class is refused. Without it (NATS) every event must name its class.
        """
        msgpack = is_msgpack(content_type)
        try:
            decoded = decode_untrusted(self._msgpack if msgpack else self._json, data)
        except msgspec.ValidationError as exc:
            errors, bad = self._item_errors(data, msgpack)
            raise _refused(f"invalid event: {plainer(str(exc))}", errors, bad) from None
        except msgspec.DecodeError as exc:
            raise InvalidEvents(f"malformed {'msgpack' if msgpack else 'JSON'}: {exc}") from None
        events = decoded if isinstance(decoded, list) else [decoded]
        if not events:
            raise InvalidEvents("empty batch: send at least one event")
        if len(events) > self._max_events:
            raise TooManyEvents(
                f"batch of {len(events)} events exceeds the limit of {self._max_events}"
            )
        may_hold_nul = msgpack or json_may_hold_nul(data)
        errors = []
        found = 0
        first_reason = ""
        classes: dict[str, list[NotebookEvent]] = {}
        for index, event in enumerate(events):
            if problem := refusal(event, may_hold_nul=may_hold_nul):
                reason = f"invalid event: {problem[1]} - at `${_path(decoded, index)}.{problem[0]}`"
            elif problem := self._problem(event, class_id):
                reason = f"event {index}: {problem[0]} {problem[1]}"
            else:
                named = (
                    event if event.class_id else msgspec.structs.replace(event, class_id=class_id)
                )
                assert named.class_id is not None
                classes.setdefault(named.class_id, []).append(named)
                continue
            found += 1
            first_reason = first_reason or reason
            if len(errors) < MAX_REPORTED_ERRORS:
                errors.append(ItemError(index=index, field=problem[0], reason=problem[1]))
        if errors:
            raise _refused(first_reason, errors, found)
        return [ClassEvents(class_id=name, events=batch) for name, batch in classes.items()]

    def _problem(self, event: NotebookEvent, class_id: str | None) -> tuple[str, str] | None:
        """The first field of ``event`` Pulse's own rules refuse, and why (the contract's
        refusal() has passed it)."""
        if class_id is None and event.class_id is None:
            return "classId", "is required on NATS (the class the event belongs to)"
        if class_id is not None and event.class_id is not None and event.class_id != class_id:
            return "classId", f"must be the API key's class {class_id!r}, not {event.class_id!r}"
        if event.event_type == CELL_EXECUTED:
            for name, wire in CELL_EXECUTED_NEEDS:
                if getattr(event, name) is None:
                    return wire, "is required for cell_executed"
        return self._metadata_problem(event) if event.metadata else None

    def _metadata_problem(self, event: NotebookEvent) -> tuple[str, str] | None:
        """Metadata is stored as JSON (jsonb): bounded in size, and without NUL in any string,
        which jsonb cannot hold (the contract checks only its keys)."""
        try:
            encoded = self._encode_json(event.metadata)
        except (TypeError, ValueError, OverflowError) as exc:
            return "metadata", f"cannot be stored as JSON ({exc})"
        if len(encoded) > MAX_METADATA_BYTES:
            return "metadata", (
                f"is {len(encoded)} bytes as JSON, over the limit of {MAX_METADATA_BYTES}"
            )
        if b"\\u0000" in encoded:
            return "metadata", "holds a NUL (U+0000), which jsonb cannot store"
        return None

    def _item_errors(self, data: bytes, msgpack: bool) -> tuple[list[ItemError], int]:
        """The first bad events and how many there are (slow path: refused messages only)."""
        try:
            raws: list[msgspec.Raw] | list[bytes] = decode_untrusted(
                self._msgpack_items if msgpack else self._json_items, data
            )
        except msgspec.ValidationError:  # not an array: a single event
            raws = [data]
        except msgspec.DecodeError:
            return [], 0
        decoder = self._msgpack_event if msgpack else self._json_event
        errors: list[ItemError] = []
        bad = 0
        for index, raw in enumerate(raws):
            try:
                problem = refusal(decode_untrusted(decoder, raw))
            except msgspec.DecodeError as exc:
                error = item_error(index, str(exc))
            else:
                if problem is None:
                    continue
                error = ItemError(index=index, field=problem[0], reason=problem[1])
            bad += 1
            if len(errors) < MAX_REPORTED_ERRORS:
                errors.append(error)
        return errors, bad


def _path(decoded: object, index: int) -> str:
    """Where an event is in the message, as msgspec names it (``[3]`` in a batch)."""
    return f"[{index}]" if isinstance(decoded, list) else ""


def _refused(reason: str, errors: list[ItemError], found: int) -> InvalidEvents:
    if found > 1:
        reason += f" (and {found - 1} more bad events)"
    return InvalidEvents(reason, errors[:MAX_REPORTED_ERRORS])


def without_code(batch: ClassEvents) -> ClassEvents:
    """The batch with every event's ``code`` dropped (a class that does not collect it)."""
    if all(event.code is None for event in batch.events):
        return batch
    return ClassEvents(
        class_id=batch.class_id,
        events=[
            event if event.code is None else msgspec.structs.replace(event, code=None)
            for event in batch.events
        ],
    )
