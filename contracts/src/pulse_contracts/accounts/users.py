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


MAX_USERS_PAGE = 5000


class ListUsers(msgspec.Struct, frozen=True, kw_only=True, tag="list_users"):
    """Every user, by email (the admins' list). With any field given, the users that match
    all of them, in id order: those of ``ids``, of one of ``roles``, enabled ones, after
    ``after_id``, at most ``limit`` (then :attr:`UserList.next_after_id` is the next page's
    cursor). The notifier expands a notification's recipients this way: thousands of users
    fit no single NATS message."""

    ids: Annotated[list[StoredText], msgspec.Meta(max_length=MAX_USERS_PAGE)] = []
    roles: list[Role] = []
    enabled_only: bool = False
    after_id: StoredText | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=MAX_USERS_PAGE)] | None = None

    @property
    def is_filtered(self) -> bool:
        return bool(
            self.ids or self.roles or self.enabled_only or self.after_id or self.limit is not None
        )


class UserList(msgspec.Struct, frozen=True, kw_only=True, tag="user_list"):
    users: list[User]
    next_after_id: str | None = None
    """A filtered list's next page starts after this id (None: this was the last page)."""


class UpdateUser(msgspec.Struct, frozen=True, kw_only=True, tag="update_user"):
    user_id: StoredText
    role: Role | None = None
    disabled: bool | None = None


class ResetPassword(msgspec.Struct, frozen=True, kw_only=True, tag="reset_password"):
    user_id: StoredText
    password: NewPassword


class UserReply(msgspec.Struct, frozen=True, kw_only=True, tag="user"):
    user: User
