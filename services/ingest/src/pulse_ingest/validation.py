"""Producer input to validated series batches: one code path for every way metrics arrive."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from datetime import datetime, timedelta

import msgspec
from pulse_contracts import Codec, MetricPoint, SeriesBatch, is_msgpack, to_epoch_us

MAX_REPORTED_ERRORS = 100
SERIES_CHUNK_POINTS = 20_000
"""Points per METRICS message: about 0.3 MB msgpack, well inside NATS's default 1 MiB payload."""
_PATH = re.compile(r"^(.*) - at `\$\.?([A-Za-z_]*)")


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


class MetricsValidator:
    def __init__(self, codec: Codec, *, max_future_skew_s: float, max_points: int) -> None:
        self._codec = codec
        self._max_future_skew = timedelta(seconds=max_future_skew_s)
        self._max_points = max_points
        self._json_items = msgspec.json.Decoder(list[msgspec.Raw])
        self._msgpack_items = msgspec.msgpack.Decoder(list[msgspec.Raw])
        self._json_point = msgspec.json.Decoder(MetricPoint)
        self._msgpack_point = msgspec.msgpack.Decoder(MetricPoint)

    def validate(self, data: bytes, content_type: str | None, now: datetime) -> list[SeriesBatch]:
        """Decode, check and group by series, keeping each series' points in arrival order."""
        try:
            decoded = self._codec.decode_producer_metrics(data, content_type)
        except msgspec.ValidationError as exc:
            errors = self._item_errors(data, content_type)
            reason = f"invalid metric point: {exc}"
            if len(errors) > 1:
                reason += f" (and {len(errors) - 1} more bad points)"
            raise InvalidMetrics(reason, errors) from None
        except msgspec.DecodeError as exc:
            fmt = "msgpack" if is_msgpack(content_type) else "JSON"
            raise InvalidMetrics(f"malformed {fmt}: {exc}") from None
        points = [decoded] if isinstance(decoded, MetricPoint) else decoded
        if not points:
            raise InvalidMetrics("empty batch: send at least one point")
        if len(points) > self._max_points:
            raise InvalidMetrics(
                f"batch of {len(points)} points exceeds the limit of {self._max_points}"
            )
        self._check_values_and_times(points, now)
        series: dict[tuple[str, str], list[MetricPoint]] = defaultdict(list)
        for point in points:
            series[(point.source, point.name)].append(point)
        return [
            SeriesBatch(
                source=source,
                name=name,
                times_us=[to_epoch_us(point.time) for point in chunk],
                values=[point.value for point in chunk],
                unit=group[-1].unit,
                tags=group[-1].tags,
            )
            for (source, name), group in series.items()
            for chunk in (
                group[start : start + SERIES_CHUNK_POINTS]
                for start in range(0, len(group), SERIES_CHUNK_POINTS)
            )
        ]

    def _check_values_and_times(self, points: list[MetricPoint], now: datetime) -> None:
        latest_allowed = now + self._max_future_skew
        skew = f"{self._max_future_skew.total_seconds():g} s"
        errors = []
        for index, point in enumerate(points):
            if not math.isfinite(point.value):
                errors.append(
                    ItemError(index=index, field="value", reason="must be a finite number")
                )
            if point.time > latest_allowed:
                errors.append(
                    ItemError(
                        index=index,
                        field="time",
                        reason=f"{point.time.isoformat()} is more than {skew} in the future",
                    )
                )
            if len(errors) >= MAX_REPORTED_ERRORS:
                break
        if errors:
            first = errors[0]
            reason = f"point {first.index}: {first.field} {first.reason}"
            if len(errors) > 1:
                reason += f" (and {len(errors) - 1} more errors)"
            raise InvalidMetrics(reason, errors)

    def _item_errors(self, data: bytes, content_type: str | None) -> list[ItemError]:
        """Every bad point, not just the first (slow path: only for refused messages)."""
        msgpack = is_msgpack(content_type)
        try:
            raws: list[msgspec.Raw] | list[bytes] = (
                self._msgpack_items if msgpack else self._json_items
            ).decode(data)
        except msgspec.ValidationError:  # not an array: a single point
            raws = [data]
        except msgspec.DecodeError:
            return []
        point_decoder = self._msgpack_point if msgpack else self._json_point
        errors = []
        for index, raw in enumerate(raws):
            try:
                point_decoder.decode(raw)
            except msgspec.ValidationError as exc:
                errors.append(_item_error(index, str(exc)))
                if len(errors) >= MAX_REPORTED_ERRORS:
                    break
        return errors


def _item_error(index: int, message: str) -> ItemError:
    match = _PATH.match(message)
    if match is None:
        return ItemError(index=index, field=None, reason=message)
    reason, field = match.groups()
    return ItemError(index=index, field=field or None, reason=reason)
