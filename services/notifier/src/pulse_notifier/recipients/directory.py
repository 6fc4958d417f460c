"""Who a notification goes to: its :class:`~pulse_contracts.notifications.Recipients`
expanded to user ids, asked of auth (``rpc.auth.users.list``, page by page).

Named users must exist (else ``unknown_recipient``); disabled accounts, named or in a role,
are skipped. A request that names nobody, or whose users are all disabled, is
``no_recipients``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from pulse_contracts import RpcError
from pulse_contracts.accounts import ListUsers, User, UserList
from pulse_contracts.notifications import Recipients
from pulse_runtime.auth_client import AuthClient, AuthRefused, AuthUnavailable


class RecipientsRefused(Exception):
    """The recipients cannot be expanded: the typed error to answer."""

    def __init__(self, error: RpcError) -> None:
        super().__init__(error.message)
        self.error = error


def names_nobody(recipients: Recipients) -> bool:
    return not (recipients.users or recipients.roles or recipients.everyone)


def unknown_ids(asked: Iterable[str], found: Iterable[User]) -> list[str]:
    """The ids asked for that are no user's, in the order asked."""
    known = {user.id for user in found}
    return [user_id for user_id in dict.fromkeys(asked) if user_id not in known]


def enabled_ids(users: Iterable[User]) -> set[str]:
    return {user.id for user in users if not user.disabled}


class Directory:
    def __init__(self, auth: Callable[[], AuthClient], *, page: int) -> None:
        """``auth`` gives the client once NATS is connected (requests arrive only then)."""
        self._auth = auth
        self._page = page

    async def expand(self, recipients: Recipients, traceparent: str | None = None) -> list[str]:
        """The enabled users ``recipients`` names, sorted; raises :class:`RecipientsRefused`."""
        if names_nobody(recipients):
            raise RecipientsRefused(
                RpcError(code="no_recipients", message="name users, roles or everyone")
            )
        chosen: set[str] = set()
        if recipients.users:
            named = await self._all(ListUsers(ids=recipients.users), traceparent)
            unknown = unknown_ids(recipients.users, named)
            if unknown:
                raise RecipientsRefused(
                    RpcError(
                        code="unknown_recipient",
                        message=f"no such user: {', '.join(unknown[:5])}",
                    )
                )
            chosen |= enabled_ids(named)
        if recipients.everyone or recipients.roles:
            roles = [] if recipients.everyone else list(recipients.roles)
            chosen |= enabled_ids(
                await self._all(ListUsers(roles=roles, enabled_only=True), traceparent)
            )
        if not chosen:
            raise RecipientsRefused(
                RpcError(code="no_recipients", message="no enabled user is among the recipients")
            )
        return sorted(chosen)

    async def _all(self, query: ListUsers, traceparent: str | None) -> list[User]:
        """Every user matching ``query``, a page at a time (keyset on the id)."""
        users: list[User] = []
        after: str | None = None
        while True:
            page_query = ListUsers(
                ids=query.ids,
                roles=query.roles,
                enabled_only=query.enabled_only,
                after_id=after,
                limit=self._page,
            )
            try:
                page = await self._auth().call(page_query, UserList, traceparent)
            except AuthRefused as exc:
                raise RecipientsRefused(exc.error) from None
            except AuthUnavailable:
                raise RecipientsRefused(
                    RpcError(code="unavailable", message="the auth service did not answer; retry")
                ) from None
            users.extend(page.users)
            if page.next_after_id is None:
                return users
            after = page.next_after_id
