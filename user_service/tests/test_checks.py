"""System checks of the avatar settings."""

import pytest
from profiles.checks import avatar_settings_check


def ids() -> list[str | None]:
    return [message.id for message in avatar_settings_check(None)]


def test_the_defaults_pass(settings):
    assert ids() == []


@pytest.mark.parametrize("value", [0, -1, "2MB", None, True])
def test_a_limit_that_is_not_a_positive_whole_number_is_an_error(settings, value):
    settings.AVATAR_MAX_DIMENSION = value

    assert ids() == ["profiles.E001"]


def test_a_byte_limit_above_the_request_body_limit_is_a_warning(settings):
    settings.AVATAR_MAX_BYTES = settings.MAX_REQUEST_BODY_SIZE + 1

    assert ids() == ["profiles.W001"]
