"""Sessions: logins, refresh-token chains, logouts, and access tokens revoked early."""

from .rules import Sessions
from .store import RefreshOutcome, SessionStore

__all__ = ["RefreshOutcome", "SessionStore", "Sessions"]
