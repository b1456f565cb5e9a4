"""The key set a service verifies tokens with (service_kit.auth.verify), in process: a token
naming a key it lacks does not send every request to auth_service for the key set.
(On real processes, auth_service hung: shared/system_tests/test_identity_outage.py.)"""

from __future__ import annotations

import time

import pytest

from platform_tools.testing.processes import free_port, wait_for
from service_kit.auth.verify import KeySet, TokenInvalid


def test_an_unknown_kid_fetches_once_a_second_and_failures_back_off(settings):
    """In process, against a port nobody listens on: a token naming a key we lack still asks
    for the key set, but not at every request, and less often after each failure."""
    settings.JWT = {**settings.JWT, "JWKS_URL": f"http://127.0.0.1:{free_port()}/jwks.json"}
    keys = KeySet()
    attempts: list[float] = []
    fetch = keys.fetch

    def counted_fetch() -> None:
        attempts.append(time.monotonic())
        fetch()

    keys.fetch = counted_fetch

    def unknown_kid() -> int:
        with pytest.raises(TokenInvalid):
            keys.get("unknown")
        return len(attempts)

    assert [unknown_kid() for _ in range(5)] == [1] * 5
    wait_for(lambda: unknown_kid() == 2, timeout=5, interval=0.05, what="a second attempt")
    wait_for(lambda: unknown_kid() == 3, timeout=10, interval=0.05, what="a third attempt")
    first, second = attempts[1] - attempts[0], attempts[2] - attempts[1]
    assert first >= KeySet.MIN_REFRESH_INTERVAL
    assert second >= 2 * KeySet.MIN_REFRESH_INTERVAL
