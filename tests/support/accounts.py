"""A plain account made through the gateway's admin API, for tests of what an account
may and may not do (the classroom roles with a token at hand: tests/support/classes.py)."""

from __future__ import annotations

import httpx

from tests.support.stack import PulseStack, bearer

USER_EMAIL = "someone@pulse.test"
USER_PASSWORD = "a perfectly long password"


async def create_user(stack: PulseStack, email: str = USER_EMAIL, role: str = "user") -> str:
    async with httpx.AsyncClient() as client:
        response = await client.post(
            stack["gateway"].url("/api/v1/admin/users"),
            headers=bearer(await stack.token()),
            json={"email": email, "password": USER_PASSWORD, "role": role},
        )
    assert response.status_code == 201, response.text
    user_id: str = response.json()["id"]
    return user_id
