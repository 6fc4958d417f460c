"""Live data over WebSocket: ``/ws`` (channels, fan-out, resume) and ``/ws/metrics``."""

from .routes import ROUTES

__all__ = ["ROUTES"]
