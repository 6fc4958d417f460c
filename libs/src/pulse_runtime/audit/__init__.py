"""The audit trail's producing side: records handed to a :class:`RecordSink` (see ``sink.py``)."""

from .sink import RecordList, RecordSink, new_key

__all__ = ["RecordList", "RecordSink", "new_key"]
