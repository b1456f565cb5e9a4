import pytest
from orders.checks import saga_timer_check


def test_the_default_timers_pass():
    assert saga_timer_check(None) == []


@pytest.mark.parametrize(
    ("overrides", "check_id"),
    [
        ({"PAYMENT_DEADLINE": 600, "RESERVATION_EXPIRY": 600}, "orders.E002"),
        (
            {"RESERVE_DEADLINE": 300, "PAYMENT_DEADLINE": 300, "RESERVATION_EXPIRY": 599},
            "orders.E002",
        ),
        ({"PAYMENT_DEADLINE": 0}, "orders.E001"),
        ({"DEADLINE_CHECK_INTERVAL": "5"}, "orders.E001"),
    ],
)
def test_a_payment_deadline_not_shorter_than_the_reservation_is_an_error(
    settings, overrides, check_id
):
    for name, value in overrides.items():
        setattr(settings, name, value)

    assert [problem.id for problem in saga_timer_check(None)] == [check_id]
