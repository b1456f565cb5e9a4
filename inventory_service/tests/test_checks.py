"""System checks of the reservation settings."""

import pytest
from stock.checks import reservation_settings_check


def ids(settings_changes, settings) -> list[str | None]:
    for name, value in settings_changes.items():
        setattr(settings, name, value)
    return [message.id for message in reservation_settings_check(None)]


def test_the_defaults_pass(settings):
    assert ids({}, settings) == []
    assert (settings.RESERVATION_TTL, settings.RESERVATION_EXPIRY_INTERVAL) == (900, 30.0)


@pytest.mark.parametrize(
    "changes",
    [{"RESERVATION_TTL": 0}, {"RESERVATION_EXPIRY_BATCH": -1}, {"RESERVATION_TTL": "15m"}],
)
def test_a_setting_that_is_not_a_positive_number_is_an_error(settings, changes):
    assert ids(changes, settings) == ["stock.E001"]


def test_an_expiry_interval_as_long_as_the_ttl_is_a_warning(settings):
    assert ids({"RESERVATION_TTL": 60, "RESERVATION_EXPIRY_INTERVAL": 60.0}, settings) == [
        "stock.W001"
    ]
