"""Accounts over REST: login, refresh, logout, users and API keys (auth does the work)."""

from .routes import ROUTES

__all__ = ["ROUTES"]
