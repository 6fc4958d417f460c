"""Who the client is: the peer's address, or, when the peer is one of the trusted proxies
(``PULSE_TRUSTED_PROXIES``), the address the proxies say in ``X-Forwarded-For``.

The header is read from its right end (the address the last proxy saw), skipping the trusted
proxies: the first address that is not one is the client. A client can write anything to the
left of it, so nothing further left is believed; an entry that is no address ends the walk at
the last trusted hop. From a peer that is not trusted the header is ignored: anyone can send
it. (uvicorn's own proxy handling, which would believe 127.0.0.1, is off: ``http_server.py``.)
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from litestar.types import ASGIApp, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_FORWARDED_FOR = b"x-forwarded-for"
PEER = "pulse.peer"
"""Scope key: the connection's own peer (host, port), kept when ``client`` is rewritten."""


class TrustedProxies:
    """The networks whose ``X-Forwarded-For`` is believed (addresses or CIDRs)."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.networks: tuple[Network, ...] = tuple(
            ipaddress.ip_network(entry.strip(), strict=False) for entry in entries
        )

    def __bool__(self) -> bool:
        return bool(self.networks)

    def __contains__(self, address: str) -> bool:
        parsed = _address(address)
        return parsed is not None and any(parsed in network for network in self.networks)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        parsed = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return parsed.ipv4_mapped
    return parsed


def client_address(
    peer: str | None, forwarded_for: str | None, trusted: TrustedProxies
) -> str | None:
    """The client's address, from the connection's ``peer`` and its ``X-Forwarded-For`` (all
    such headers joined with commas), believing the header only as far as ``trusted`` goes."""
    if peer is None or not forwarded_for or peer not in trusted:
        return peer
    client = peer
    for entry in reversed(forwarded_for.split(",")):
        address = _address(entry)
        if address is None:
            break
        client = str(address)
        if client not in trusted:
            break
    return client


def forwarded_for(scope: Scope) -> str | None:
    values = [value.decode("latin-1") for key, value in scope["headers"] if key == _FORWARDED_FOR]
    return ",".join(values) if values else None


def resolve_clients(trusted: TrustedProxies) -> Callable[[ASGIApp], ASGIApp]:
    """Middleware: each connection's ``client`` (what the app, the access log and the login
    throttle see) is the client :func:`client_address` finds; the peer is kept as
    ``scope["pulse.peer"]``. With no trusted proxy it adds nothing at all. It only rewrites
    the scope, so a WebSocket keeps no frame of it for its life."""

    def wrap(app: ASGIApp) -> ASGIApp:
        if not trusted:
            return app

        def resolving(scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
            peer = scope.get("client")
            if peer is not None and scope["type"] in ("http", "websocket"):
                client = client_address(peer[0], forwarded_for(scope), trusted)
                if client != peer[0]:
                    mutable: Any = scope
                    mutable[PEER] = peer
                    mutable["client"] = (client, 0)
            return app(scope, receive, send)

        return resolving

    return wrap
