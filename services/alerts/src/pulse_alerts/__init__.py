"""Pulse alerts: alert rules, their evaluation on the live streams, their firing state."""
