"""``pulse``: the operators' command line for accounts and API keys.

It works on auth's database directly (``PULSE_DATABASE_URL``), with the same rules and
hashing as the service, so it also works when no service is running (the first admin of a
fresh installation, a locked-out admin).

    pulse users create --email ops@example.com --role admin      # asks for the password
    pulse users list
    pulse apikeys create --name sensor-7 --scope ingest:metrics   # prints the secret once
    pulse apikeys list
    pulse apikeys revoke <id>
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from typing import get_args
from urllib.parse import urlsplit

import asyncpg
import msgspec
from pulse_contracts import RpcError
from pulse_contracts.accounts import (
    ApiKeyCreated,
    ApiKeyList,
    ApiKeyReply,
    AuthReply,
    AuthRequest,
    CreateApiKey,
    CreateUser,
    ListApiKeys,
    ListUsers,
    Revocation,
    RevokeApiKey,
    Role,
    UserList,
    UserReply,
)
from pulse_runtime.database import DATABASE_AWAY
from pulse_runtime.settings import settings_or_exit

from .authority import Authority
from .passwords import Passwords
from .schema import migrate
from .settings import Settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pulse", description="Manage Pulse users and API keys.")
    topics = parser.add_subparsers(dest="topic", required=True)
    users = topics.add_parser("users", help="user accounts").add_subparsers(
        dest="action", required=True
    )
    create_user = users.add_parser("create", help="create a user")
    create_user.add_argument("--email", required=True)
    create_user.add_argument("--role", choices=list(get_args(Role)), default="user")
    create_user.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    users.add_parser("list", help="list users")
    keys = topics.add_parser("apikeys", help="API keys for producers").add_subparsers(
        dest="action", required=True
    )
    create_key = keys.add_parser("create", help="create an API key (the secret is shown once)")
    create_key.add_argument("--name", required=True)
    create_key.add_argument(
        "--scope",
        action="append",
        required=True,
        choices=["ingest:metrics", "ingest:events"],
        help="repeat for several scopes",
    )
    keys.add_parser("list", help="list API keys")
    revoke = keys.add_parser("revoke", help="revoke an API key")
    revoke.add_argument("id")
    return parser


def _request(args: argparse.Namespace) -> AuthRequest:
    match (args.topic, args.action):
        case ("users", "create"):
            password = (
                sys.stdin.readline().rstrip("\n")
                if args.password_stdin
                else getpass.getpass("password (12 characters or more): ")
            )
            return msgspec.convert(
                {
                    "type": "create_user",
                    "email": args.email,
                    "password": password,
                    "role": args.role,
                },
                CreateUser,
            )
        case ("users", "list"):
            return ListUsers()
        case ("apikeys", "create"):
            return CreateApiKey(name=args.name, scopes=args.scope)
        case ("apikeys", "list"):
            return ListApiKeys()
        case _:
            return RevokeApiKey(api_key_id=args.id)


def _print(reply: AuthReply) -> None:
    match reply:
        case UserReply(user=user):
            print(f"{user.id}  {user.email}  {user.role}")
        case UserList(users=users):
            for user in users:
                state = "disabled" if user.disabled else "active"
                print(f"{user.id}  {user.email:<32} {user.role:<10} {state}")
        case ApiKeyCreated(api_key=key, secret=secret):
            print(f"{key.id}  {key.name}  scopes: {', '.join(key.scopes)}")
            print(f"secret (shown only now): {secret}")
        case ApiKeyList(api_keys=keys):
            for key in keys:
                state = "revoked" if key.revoked_at else "active"
                print(f"{key.id}  {key.prefix}  {key.name:<24} {','.join(key.scopes):<30} {state}")
        case ApiKeyReply(api_key=key):
            print(f"{key.id}  revoked")
        case _:
            print(reply)


async def _run(settings: Settings, request: AuthRequest) -> AuthReply:
    pool = await asyncpg.create_pool(settings.database.url, min_size=1, max_size=2)
    assert pool is not None
    passwords = Passwords(1)
    try:
        async with pool.acquire() as conn:
            await migrate(conn)

        async def no_live_verifiers(_: Revocation) -> None:
            return None  # revocations reach gateways when they resync (every 30 s)

        authority = Authority(pool, passwords, [], settings.auth, no_live_verifiers)
        return await authority.handle(request)
    finally:
        passwords.close()
        await pool.close()


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    settings = settings_or_exit(Settings.from_environ, os.environ)  # noqa: TID251 - read once
    try:
        request = _request(args)
    except msgspec.ValidationError as exc:
        sys.exit(f"pulse: {exc}")
    try:
        reply = asyncio.run(_run(settings, request))
    except DATABASE_AWAY as exc:
        where = urlsplit(settings.database.url)
        sys.exit(
            f"pulse: cannot reach the database at {where.hostname}:{where.port or 5432}"
            f" ({exc}); is `make run` running, or is PULSE_DATABASE_URL set?"
        )
    if isinstance(reply, RpcError):
        sys.exit(f"pulse: {reply.message} ({reply.code})")
    _print(reply)


if __name__ == "__main__":
    main()
