"""The audit trail's producing side: records handed to a :class:`RecordSink` (see ``sink.py``):
the task log (:mod:`.tasks`), and the process's recorder that publishes them (:mod:`.recorder`)."""

from .sink import RecordList, RecordSink, new_key
from .tasks import TaskLog, TaskRun, TaskStepRun

__all__ = ["RecordList", "RecordSink", "TaskLog", "TaskRun", "TaskStepRun", "new_key"]
