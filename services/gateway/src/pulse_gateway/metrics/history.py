"""History comes from persistence over ``rpc.query.metrics``; the gateway holds no database.

An answer larger than one NATS message (100,000 raw points are several MB) comes in parts
(ADR 12): every query offers them, sized by this connection's ``max_payload``.
"""

from __future__ import annotations

from datetime import datetime

from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from pulse_contracts import (
    Catalog,
    CatalogQuery,
    Codec,
    MetricsQuery,
    MetricsQueryResult,
    RpcError,
    subjects,
)
from pulse_runtime.replies import IncompleteReply, ask
from pulse_runtime.tracing import TRACEPARENT
from pulse_runtime.web import ApiError

_CLIENT_ERRORS = {"too_many_points", "invalid_range", "bad_request", "invalid_max_points"}


class HistoryClient:
    def __init__(self, nats: Client, codec: Codec, *, timeout_s: float, max_points: int) -> None:
        self._nats = nats
        self._codec = codec
        self._timeout_s = timeout_s
        self._max_points = max_points

    async def metrics(
        self,
        name: str,
        start: datetime,
        end: datetime,
        source: str | None,
        traceparent: str,
        *,
        max_points: int | None = None,
    ) -> MetricsQueryResult:
        query = MetricsQuery(
            name=name,
            start=start,
            end=end,
            source=source,
            limit=self._max_points,
            max_points=max_points,
            part_bytes=self._nats.max_payload,
        )
        data = await self._ask(subjects.RPC_QUERY_METRICS, self._codec.pack(query), traceparent)
        answer = self._codec.metrics_query_reply.decode(data)
        if isinstance(answer, RpcError):
            raise _api_error(answer)
        return answer

    async def catalog(self, traceparent: str) -> Catalog:
        data = await self._ask(
            subjects.RPC_QUERY_CATALOG,
            self._codec.pack(CatalogQuery(part_bytes=self._nats.max_payload)),
            traceparent,
        )
        answer = self._codec.catalog_reply.decode(data)
        if isinstance(answer, RpcError):
            raise _api_error(answer)
        return answer

    async def _ask(self, subject: str, payload: bytes, traceparent: str) -> bytes:
        try:
            return await ask(
                self._nats,
                subject,
                payload,
                timeout_s=self._timeout_s,
                headers={TRACEPARENT: traceparent},
            )
        except NoRespondersError:
            raise ApiError(
                503, "history_unavailable", "no persistence service is running"
            ) from None
        except NatsTimeoutError:
            raise ApiError(504, "history_timeout", "the history query took too long") from None
        except IncompleteReply as exc:
            raise ApiError(
                503, "history_incomplete", f"the history answer arrived incomplete ({exc})"
            ) from None


def _api_error(error: RpcError) -> ApiError:
    status = 400 if error.code in _CLIENT_ERRORS else 503
    parameter = "max_points" if error.code == "invalid_max_points" else None
    return ApiError(status, error.code, error.message, parameter=parameter)
