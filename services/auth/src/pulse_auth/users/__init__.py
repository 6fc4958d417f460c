"""Accounts: users, their roles, passwords and token versions, and the first admin."""

from .first_admin import ensure_first_admin
from .rules import PublishRevocation, Users
from .store import EmailTaken, FirstAdmin, UserStore, UserWithSecret

__all__ = [
    "EmailTaken",
    "FirstAdmin",
    "PublishRevocation",
    "UserStore",
    "UserWithSecret",
    "Users",
    "ensure_first_admin",
]
