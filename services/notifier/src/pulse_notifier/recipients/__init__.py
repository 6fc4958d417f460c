"""Recipients: users, roles or everyone, expanded to user ids by asking auth."""

from .directory import Directory, RecipientsRefused, enabled_ids, names_nobody, unknown_ids

__all__ = ["Directory", "RecipientsRefused", "enabled_ids", "names_nobody", "unknown_ids"]
