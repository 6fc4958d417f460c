"""Who the client is: X-Forwarded-For believed only from a trusted proxy."""

from __future__ import annotations

from typing import Any

import pytest
from pulse_runtime.settings import AccessLogSettings, SettingsError, load_settings
from pulse_runtime.web.client_address import PEER, TrustedProxies, client_address, resolve_clients

PROXIES = TrustedProxies(["10.0.0.0/8", "127.0.0.1", "fd00::/8"])


def test_without_a_trusted_peer_the_header_is_ignored() -> None:
    assert client_address("203.0.113.9", "1.2.3.4", PROXIES) == "203.0.113.9"
    assert client_address("127.0.0.1", "1.2.3.4", TrustedProxies([])) == "127.0.0.1"
    assert client_address("127.0.0.1", None, PROXIES) == "127.0.0.1"
    assert client_address(None, "1.2.3.4", PROXIES) is None


def test_the_rightmost_address_that_is_not_a_trusted_proxy_is_the_client() -> None:
    # The client wrote a lie on the left; the proxies appended what they saw.
    assert client_address("10.0.0.2", "6.6.6.6, 198.51.100.7, 10.0.0.1", PROXIES) == "198.51.100.7"
    assert client_address("127.0.0.1", "198.51.100.7", PROXIES) == "198.51.100.7"
    assert client_address("::ffff:10.1.2.3", "2001:db8::1", PROXIES) == "2001:db8::1"
    assert client_address("fd00::1", "[2001:db8::2]", PROXIES) == "2001:db8::2"


def test_a_malformed_entry_ends_the_walk_at_the_last_trusted_hop() -> None:
    assert client_address("10.0.0.2", "1.2.3.4, not-an-ip, 10.0.0.1", PROXIES) == "10.0.0.1"
    assert client_address("10.0.0.2", "junk", PROXIES) == "10.0.0.2"
    # Only proxies all the way: the leftmost is as far as the chain goes.
    assert client_address("10.0.0.2", "10.0.0.5, 10.0.0.1", PROXIES) == "10.0.0.5"


def test_the_setting_takes_addresses_and_cidrs_and_names_a_bad_one() -> None:
    settings = load_settings(
        AccessLogSettings, "PULSE_", {"PULSE_TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1"}
    )
    assert settings.trusted_proxies == ["10.0.0.0/8", "127.0.0.1"]
    assert load_settings(AccessLogSettings, "PULSE_", {}).trusted_proxies == []
    with pytest.raises(SettingsError, match="PULSE_TRUSTED_PROXIES: 'nope'"):
        load_settings(AccessLogSettings, "PULSE_", {"PULSE_TRUSTED_PROXIES": "nope"})


async def test_the_middleware_rewrites_the_client_and_keeps_the_peer() -> None:
    seen: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(dict(scope))

    resolving: Any = resolve_clients(PROXIES)(app)
    headers = [(b"x-forwarded-for", b"198.51.100.7")]
    await resolving({"type": "http", "client": ("127.0.0.1", 5000), "headers": headers}, None, None)
    await resolving({"type": "http", "client": ("8.8.8.8", 5000), "headers": headers}, None, None)
    assert seen[0]["client"] == ("198.51.100.7", 0)
    assert seen[0][PEER] == ("127.0.0.1", 5000)
    assert seen[1]["client"] == ("8.8.8.8", 5000)
    assert PEER not in seen[1]
    # Nothing added without proxies.
    assert resolve_clients(TrustedProxies([]))(app) is app
