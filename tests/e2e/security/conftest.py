"""The stack most security tests share: auth and the gateway, on a fresh database."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.stack import PulseStack


@pytest.fixture
def stack(make_stack: Any) -> PulseStack:
    stack: PulseStack = make_stack()
    stack.start(["auth", "gateway"])
    return stack
