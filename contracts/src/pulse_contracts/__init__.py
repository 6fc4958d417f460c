"""Pulse's wire contracts: message shapes, subject names and codecs. Depends on msgspec only."""

from . import subjects
from .codecs import (
    CONTENT_TYPE_HEADER,
    JSON,
    MSGPACK,
    UNDECODABLE,
    Codec,
    decode_untrusted,
    is_msgpack,
    undecodable_reason,
)
from .deadletter import DeadLetter
from .metrics import (
    EPOCH,
    SERIES_TOKEN_PATTERN,
    IngestAck,
    MetricPoint,
    ProducerMetrics,
    SeriesBatch,
    from_epoch_us,
    to_epoch_us,
)
from .queries import (
    Catalog,
    CatalogQuery,
    CatalogReply,
    MetricsQuery,
    MetricsQueryReply,
    MetricsQueryResult,
    RpcError,
    SeriesInfo,
    StoredBucket,
    StoredPoint,
)

__all__ = [
    "CONTENT_TYPE_HEADER",
    "EPOCH",
    "JSON",
    "MSGPACK",
    "SERIES_TOKEN_PATTERN",
    "UNDECODABLE",
    "Catalog",
    "CatalogQuery",
    "CatalogReply",
    "Codec",
    "DeadLetter",
    "IngestAck",
    "MetricPoint",
    "MetricsQuery",
    "MetricsQueryReply",
    "MetricsQueryResult",
    "ProducerMetrics",
    "RpcError",
    "SeriesBatch",
    "SeriesInfo",
    "StoredBucket",
    "StoredPoint",
    "decode_untrusted",
    "from_epoch_us",
    "is_msgpack",
    "subjects",
    "to_epoch_us",
    "undecodable_reason",
]
