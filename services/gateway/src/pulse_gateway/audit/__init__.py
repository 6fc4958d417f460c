"""The gateway's audit domain: the admins' views of the audit trail over REST (search the
access log and task runs, a trace's story, the dead-letter queue), asked of persistence; the
live side is the admins' ``logs`` channel of ``/ws`` (``live/channels.py``)."""

from .client import AuditClient, audit_client
from .routes import ROUTES

__all__ = ["ROUTES", "AuditClient", "audit_client"]
