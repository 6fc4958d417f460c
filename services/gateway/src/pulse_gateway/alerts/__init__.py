"""The gateway's alert rules domain: the rules over REST, asked of the alerts service."""

from .client import AlertsClient, alerts_client
from .routes import ROUTES

__all__ = ["ROUTES", "AlertsClient", "alerts_client"]
