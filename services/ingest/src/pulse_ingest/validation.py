"""Producer input to validated series batches: one code path for every way metrics arrive."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

import msgspec
from pulse_contracts import (
    EPOCH,
    SERIES_TOKEN_PATTERN,
    Codec,
    MetricPoint,
    SeriesBatch,
    decode_untrusted,
    is_msgpack,
    to_epoch_us,
)
from pulse_contracts.metrics import AwareDatetime
from pulse_contracts.text import STORABLE_TEXT_PATTERN

MAX_REPORTED_ERRORS = 100
SERIES_CHUNK_POINTS = 20_000
"""Points per METRICS message: about 0.3 MB msgpack, well inside NATS's default 1 MiB payload."""
_SERIES_TOKEN = re.compile(SERIES_TOKEN_PATTERN)
_ONE_MICROSECOND = timedelta(microseconds=1)
_FIRST_STORABLE_US = to_epoch_us(datetime(1, 1, 1, tzinfo=UTC))
"""The earliest time PostgreSQL's timestamptz (and Python) holds: 0001-01-01T00:00:00+14:00 is
a valid RFC 3339 time, but a day before it in UTC."""
_PATH = re.compile(r"^(.*) - at (`key` in )?`\$\.?([A-Za-z_]*)")
_NUL_REFUSED = f"Expected `str` matching regex {STORABLE_TEXT_PATTERN!r}"
"""msgspec's words for a NUL in text PostgreSQL stores, replaced by plainer ones."""
_NUL_REASON = "Expected `str` without NUL (U+0000)"


class ItemError(msgspec.Struct, frozen=True, kw_only=True):
    """What is wrong with one point of a message: which, which field, why."""

    index: int
    field: str | None
    reason: str


class InvalidMetrics(ValueError):
    """The whole message is refused; ``str(self)`` is the reason, ``errors`` the bad points."""

    def __init__(self, reason: str, errors: list[ItemError] | None = None) -> None:
        super().__init__(reason)
        self.errors = errors or []


class _ArrivingPoint(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """:class:`MetricPoint` as the hot path decodes it: the same fields and limits, except that
    the source and name patterns are checked once per series after decoding rather than once
    per point by the decoder (a regular expression per point was the costliest step of ingest),
    the unit and tags are checked for NUL after decoding (the contract's pattern on each of them
    made tagged points three times slower), and absent tags stay None instead of a new dict per
    point. Anything refused takes the slow path through :class:`MetricPoint` itself, so
    producers see the contract's own errors.
    """

    time: AwareDatetime
    source: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    value: float
    unit: Annotated[str, msgspec.Meta(max_length=32)] | None = None
    tags: Annotated[dict[str, str], msgspec.Meta(max_length=32)] | None = None


class MetricsValidator:
    def __init__(self, codec: Codec, *, max_future_skew_s: float, max_points: int) -> None:
        self._codec = codec
        self._max_future_skew_us = round(max_future_skew_s * 1_000_000)
        self._max_points = max_points
        arriving = _ArrivingPoint | list[_ArrivingPoint]
        self._json_arriving = msgspec.json.Decoder(arriving)
        self._msgpack_arriving = msgspec.msgpack.Decoder(arriving)
        self._json_items = msgspec.json.Decoder(list[msgspec.Raw])
        self._msgpack_items = msgspec.msgpack.Decoder(list[msgspec.Raw])
        self._json_point = msgspec.json.Decoder(MetricPoint)
        self._msgpack_point = msgspec.msgpack.Decoder(MetricPoint)

    def validate(self, data: bytes, content_type: str | None, now: datetime) -> list[SeriesBatch]:
        """Decode, check and group by series, keeping each series' points in arrival order."""
        msgpack = is_msgpack(content_type)
        try:
            decoded = decode_untrusted(
                self._msgpack_arriving if msgpack else self._json_arriving, data
            )
        except msgspec.ValidationError:
            raise self._refusal(data, content_type, []) from None
        except msgspec.DecodeError as exc:
            fmt = "msgpack" if msgpack else "JSON"
            raise InvalidMetrics(f"malformed {fmt}: {exc}") from None
        points = decoded if isinstance(decoded, list) else [decoded]
        if not points:
            raise InvalidMetrics("empty batch: send at least one point")
        if len(points) > self._max_points:
            raise InvalidMetrics(
                f"batch of {len(points)} points exceeds the limit of {self._max_points}"
            )
        series: dict[tuple[str, str], list[int]] = {}
        for index, point in enumerate(points):
            series.setdefault((point.source, point.name), []).append(index)
        if not all(_SERIES_TOKEN.fullmatch(s) and _SERIES_TOKEN.fullmatch(n) for s, n in series):
            raise self._refusal(data, content_type, points)
        if (_holds_nul(points) if msgpack else json_may_hold_nul(data)) and (
            refusal := self._contract_refusal(data, content_type)
        ):
            raise refusal
        times_us = [(point.time - EPOCH) // _ONE_MICROSECOND for point in points]  # to_epoch_us
        values = [point.value for point in points]
        self._check_values_and_times(points, times_us, values, to_epoch_us(now))
        return [
            SeriesBatch(
                source=source,
                name=name,
                times_us=[times_us[i] for i in chunk],
                values=[values[i] for i in chunk],
                unit=points[indices[-1]].unit,
                tags=points[indices[-1]].tags or {},
            )
            for (source, name), indices in series.items()
            for chunk in (
                indices[start : start + SERIES_CHUNK_POINTS]
                for start in range(0, len(indices), SERIES_CHUNK_POINTS)
            )
        ]

    def _refusal(
        self, data: bytes, content_type: str | None, points: list[_ArrivingPoint]
    ) -> InvalidMetrics:
        """Why ``data`` is refused: the contract's first error and one per bad point (slow)."""
        if refusal := self._contract_refusal(data, content_type):
            return refusal
        # Only a token ending in a newline gets here: the contract's pattern is applied with
        # re.search, where `$` also matches before a final newline. A subject token must not
        # hold one, so Pulse refuses it all the same.
        errors = _token_errors(points)
        first = errors[0]
        reason = f"invalid metric point: {first.reason} - at `$[{first.index}].{first.field}`"
        bad = len({error.index for error in errors})  # a point may have two bad tokens
        return _refused(reason, errors, bad, "bad points")

    def _contract_refusal(self, data: bytes, content_type: str | None) -> InvalidMetrics | None:
        """The contract's first error and one per bad point, if it refuses ``data`` (slow)."""
        try:
            self._codec.decode_producer_metrics(data, content_type)
        except msgspec.ValidationError as exc:
            errors, bad = self._item_errors(data, content_type)
            return _refused(f"invalid metric point: {plainer(str(exc))}", errors, bad, "bad points")
        return None

    def _check_values_and_times(
        self,
        points: list[_ArrivingPoint],
        times_us: list[int],
        values: list[float],
        now_us: int,
    ) -> None:
        latest_allowed_us = now_us + self._max_future_skew_us
        # One C-level pass each; any inf or NaN makes the sum non-finite (so does an overflow,
        # which only costs the exact pass below).
        if (
            max(times_us) <= latest_allowed_us
            and min(times_us) >= _FIRST_STORABLE_US
            and math.isfinite(sum(values))
        ):
            return
        skew = f"{self._max_future_skew_us / 1_000_000:g} s"
        errors: list[ItemError] = []
        found = 0
        for index, point in enumerate(points):
            if len(errors) >= MAX_REPORTED_ERRORS:  # only counted from here on
                found += not math.isfinite(point.value)
                found += not _FIRST_STORABLE_US <= times_us[index] <= latest_allowed_us
                continue
            if not math.isfinite(point.value):
                errors.append(
                    ItemError(index=index, field="value", reason="must be a finite number")
                )
            if times_us[index] > latest_allowed_us:
                errors.append(
                    ItemError(
                        index=index,
                        field="time",
                        reason=f"{point.time.isoformat()} is more than {skew} in the future",
                    )
                )
            elif times_us[index] < _FIRST_STORABLE_US:
                errors.append(
                    ItemError(
                        index=index,
                        field="time",
                        reason=f"{point.time.isoformat()} is before 0001-01-01T00:00:00Z",
                    )
                )
        if errors:
            first = errors[0]
            reason = f"point {first.index}: {first.field} {first.reason}"
            raise _refused(reason, errors, len(errors) + found, "errors")

    def _item_errors(self, data: bytes, content_type: str | None) -> tuple[list[ItemError], int]:
        """The first bad points, and how many there are in all (slow path: only for refused
        messages)."""
        msgpack = is_msgpack(content_type)
        try:
            raws: list[msgspec.Raw] | list[bytes] = decode_untrusted(
                self._msgpack_items if msgpack else self._json_items, data
            )
        except msgspec.ValidationError:  # not an array: a single point
            raws = [data]
        except msgspec.DecodeError:  # too deep to take apart: the reason says what is wrong
            return [], 0
        point_decoder = self._msgpack_point if msgpack else self._json_point
        errors: list[ItemError] = []
        bad = 0
        for index, raw in enumerate(raws):
            try:
                decode_untrusted(point_decoder, raw)
            except msgspec.DecodeError as exc:
                bad += 1
                if len(errors) < MAX_REPORTED_ERRORS:
                    errors.append(item_error(index, str(exc)))
        return errors, bad


def _refused(reason: str, errors: list[ItemError], found: int, what: str) -> InvalidMetrics:
    """``reason`` (the first error) and how many more were ``found``: all of them, though only
    the first :data:`MAX_REPORTED_ERRORS` are listed."""
    if found > 1:
        reason += f" (and {found - 1} more {what})"
    return InvalidMetrics(reason, errors[:MAX_REPORTED_ERRORS])


def json_may_hold_nul(data: bytes) -> bool:
    """JSON text holds a NUL only as the escape ``\\u0000`` (a raw control character is
    malformed JSON). Most messages hold no backslash at all, which one memchr tells, about 50
    times faster than looking for the escape itself."""
    return b"\\" in data and b"\\u0000" in data


def _holds_nul(points: list[_ArrivingPoint]) -> bool:
    """Whether a unit or a tag holds a NUL (a plain loop: cheaper than any cleverness)."""
    for point in points:
        if point.unit is not None and "\x00" in point.unit:
            return True
        if point.tags:
            for key, value in point.tags.items():
                if "\x00" in key or "\x00" in value:
                    return True
    return False


def plainer(message: str) -> str:
    return message.replace(_NUL_REFUSED, _NUL_REASON)


def _token_errors(points: list[_ArrivingPoint]) -> list[ItemError]:
    reason = f"Expected `str` matching regex {SERIES_TOKEN_PATTERN!r}"
    return [
        ItemError(index=index, field=field, reason=reason)
        for index, point in enumerate(points)
        for field, token in (("source", point.source), ("name", point.name))
        if not _SERIES_TOKEN.fullmatch(token)
    ]


def item_error(index: int, message: str) -> ItemError:
    match = _PATH.match(message)
    if match is None:
        return ItemError(index=index, field=None, reason=plainer(message))
    reason, in_key, field = match.groups()
    reason = plainer(reason) + (" (in a key)" if in_key else "")
    return ItemError(index=index, field=field or None, reason=reason)
