"""The HTTP edge: error bodies, security headers, health probes, the dashboard's files."""

from .health import ROUTES

__all__ = ["ROUTES"]
