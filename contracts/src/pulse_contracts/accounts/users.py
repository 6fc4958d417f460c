"""Users: who may log in, with which role; created, listed and changed by admins."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from pulse_contracts.text import StoredText

Role = Literal["admin", "user", "instructor", "student"]
"""``instructor`` and ``student`` are the classroom's (ADR 0023); ``user`` sees the metrics."""
EMAIL_PATTERN = r"^[^@\s\x00]+@[^@\s\x00]+$"
"""Something@something, without spaces; msgspec takes one pattern per type, so this one also
refuses NUL, as :data:`~pulse_contracts.text.STORABLE` would."""
Email = Annotated[
    str,
    msgspec.Meta(
        min_length=3, max_length=254, pattern=EMAIL_PATTERN, description="an email address"
    ),
]
Password = Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
NewPassword = Annotated[str, msgspec.Meta(min_length=12, max_length=1024)]
"""Passwords are only ever hashed, never stored as text: any character may be in one."""


class User(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    email: str
    role: Role
    disabled: bool
    created_at: datetime
    updated_at: datetime


class CreateUser(msgspec.Struct, frozen=True, kw_only=True, tag="create_user"):
    email: Email
    password: NewPassword
    role: Role = "user"


class ListUsers(msgspec.Struct, frozen=True, kw_only=True, tag="list_users"):
    pass


class UserList(msgspec.Struct, frozen=True, kw_only=True, tag="user_list"):
    users: list[User]


class UpdateUser(msgspec.Struct, frozen=True, kw_only=True, tag="update_user"):
    user_id: StoredText
    role: Role | None = None
    disabled: bool | None = None


class ResetPassword(msgspec.Struct, frozen=True, kw_only=True, tag="reset_password"):
    user_id: StoredText
    password: NewPassword


class UserReply(msgspec.Struct, frozen=True, kw_only=True, tag="user"):
    user: User
