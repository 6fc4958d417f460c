"""The first admin, from ``PULSE_ADMIN_EMAIL`` / ``PULSE_ADMIN_PASSWORD``, when none exists."""

from __future__ import annotations

from pulse_runtime.logging import get_logger

from pulse_auth.passwords import Passwords
from pulse_auth.settings import AdminSettings

from .store import FirstAdmin, UserStore

log = get_logger(__name__)


async def ensure_first_admin(store: UserStore, passwords: Passwords, admin: AdminSettings) -> None:
    """Create ``PULSE_ADMIN_EMAIL`` as the first admin when there is no admin at all.

    Never changes an existing user: when the email belongs to someone who is not an admin,
    auth starts without an admin and says so (promoting them silently would hand admin
    rights to whoever registered that email)."""
    if not admin.email or not admin.password or await store.has_admin():
        return
    outcome = await store.create_first_admin(admin.email, await passwords.hash(admin.password))
    match outcome:
        case FirstAdmin.CREATED:
            log.info("first admin created", email=admin.email)
        case FirstAdmin.ADMIN_EXISTS:
            log.info("first admin already created by another auth replica")
        case FirstAdmin.EMAIL_TAKEN:
            log.warning(
                "PULSE_ADMIN_EMAIL belongs to a user who is not an admin: no admin created;"
                " choose another email, or create an admin with `pulse users create --role admin`",
                email=admin.email,
            )
