"""Retention: archived and read notifications expire after the days set."""

from .sweep import sweep, sweep_forever

__all__ = ["sweep", "sweep_forever"]
