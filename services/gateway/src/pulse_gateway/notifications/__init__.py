"""The gateway's notifications domain: each user's inbox over REST (the live side is the
``notifications`` channel of ``/ws``: ``live/channels.py``)."""

from .client import NotifierClient, notifier_client
from .routes import ROUTES

__all__ = ["ROUTES", "NotifierClient", "notifier_client"]
