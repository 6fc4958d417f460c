"""The audit trail's producing side: records handed to a :class:`RecordSink` (see ``sink.py``):
the task log (:mod:`.tasks`), and the process's recorder that publishes them to LOGS, with its
spool for while NATS is away (:mod:`.recorder`, :mod:`.spool`)."""

from .recorder import AuditRecorder
from .sink import RecordList, RecordSink, new_key
from .tasks import TaskLog, TaskRun, TaskStepRun

__all__ = [
    "AuditRecorder",
    "RecordList",
    "RecordSink",
    "TaskLog",
    "TaskRun",
    "TaskStepRun",
    "new_key",
]
