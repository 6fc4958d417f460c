"""The classroom domain's subjects, stream and consumer names: producers publish notebook
events on ``ingest.events``; ingest stores validated batches in EVENTS on
``events.<class_id>``; persistence writes them and answers ``rpc.classroom.*`` (classes) and
``rpc.query.class.*`` (the class views); the stream's live copy feeds the ``class:<id>``
channel of ``/ws``."""

from __future__ import annotations

INGEST_EVENTS = "ingest.events"
"""Core NATS subject where any producer publishes notebook events (JSON or msgpack)."""

EVENTS_STREAM = "EVENTS"
EVENTS_SUBJECTS = "events.>"
PERSISTENCE_EVENTS_DURABLE = "persistence-events"

RPC_CLASSROOM = "rpc.classroom"
"""Classes: create, list, show, change, and who may see which (``rpc.classroom.<verb>``)."""
RPC_QUERY_CLASS = "rpc.query.class"
"""The class views: ``rpc.query.class.<overview|progress|hotspots|timeline|feed>``."""


def events_subject(class_id: str) -> str:
    """Subject of one class's validated events in the EVENTS stream."""
    return f"events.{class_id}"


def classroom_rpc(verb: str) -> str:
    return f"{RPC_CLASSROOM}.{verb}"


def class_query(view: str) -> str:
    return f"{RPC_QUERY_CLASS}.{view}"
