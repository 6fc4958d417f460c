"""The gateway's own part of the HTTP edge: its refusal table, the security headers its
dashboard needs, and the dashboard's static files. What every Pulse HTTP service shares (the
error body and handlers, ``/healthz`` and ``/readyz``, the app defaults) is
:mod:`pulse_runtime.web`."""
