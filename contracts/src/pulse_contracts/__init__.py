"""Pulse's wire contracts: message shapes, subject names and codecs. Depends on msgspec only.

One package or module per domain, each with its messages and its subjects: :mod:`.metrics`,
:mod:`.accounts`, :mod:`.deadletter`; beside them what every domain shares: :mod:`.rpc` (the
error reply), :mod:`.reply_parts` (answers in parts), :mod:`.live` (the live copy of a
stream), :mod:`.text` (storable text), :mod:`.versions` (where a version lives),
:mod:`.codecs`, and :mod:`.subjects` (every name on the bus, gathered).

Schema evolution (every Struct that crosses NATS):

* a new field always gets a default, so old producers keep working;
* a field's type never changes; a new meaning gets a new field name;
* readers ignore unknown fields (no ``forbid_unknown_fields`` on wire messages), so an old
  service reads a newer message without failing;
* an array-like Struct gets new fields only at the end;
* any other change is a new version of the message (:mod:`.versions`).
"""

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
from .metrics.points import (
    EPOCH,
    SERIES_TOKEN_PATTERN,
    IngestAck,
    MetricPoint,
    ProducerMetrics,
    SeriesBatch,
    from_epoch_us,
    to_epoch_us,
)
from .metrics.queries import (
    Catalog,
    CatalogQuery,
    CatalogReply,
    MetricsQuery,
    MetricsQueryReply,
    MetricsQueryResult,
    SeriesInfo,
    StoredBucket,
    StoredPoint,
)
from .rpc import RpcError

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
