"""Metrics over REST: one metric's history, and the catalog of every series."""

from .routes import ROUTES

__all__ = ["ROUTES"]
