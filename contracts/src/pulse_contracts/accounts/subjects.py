"""The accounts domain's subjects: auth answers ``rpc.auth.<verb>`` (one subject per verb, see
:data:`~pulse_contracts.accounts.verbs.AUTH_VERBS`) and announces keys and revocations."""

from __future__ import annotations

RPC_AUTH = "rpc.auth"
"""Prefix of the auth service's request/reply verbs: ``rpc.auth.<verb>``."""
AUTH_KEYS = "auth.keys"
AUTH_REVOCATIONS = "auth.revocations"
AUTH_QUEUE = "auth"


def auth_rpc(verb: str) -> str:
    """``rpc.auth.<verb>``, e.g. ``rpc.auth.login``."""
    return f"{RPC_AUTH}.{verb}"
