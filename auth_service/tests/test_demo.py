import pytest
from accounts.models import User
from accounts.tokens import roles_of
from django.core.management import call_command
from django.core.management.base import CommandError

from service_kit.models import OutboxMessage

pytestmark = pytest.mark.django_db


def test_demo_accounts_are_made_once_and_printed_the_same(capsys):
    call_command("load_demo")
    first = capsys.readouterr().out
    call_command("load_demo")
    second = capsys.readouterr().out

    assert first == second
    staff = User.objects.get(email="staff@demo.local")
    password = first.split("staff@demo.local / ")[1].split()[0]
    assert staff.check_password(password) and staff.is_staff
    assert roles_of(staff) == ["catalogue_manager", "inventory_manager", "order_manager", "support"]
    assert roles_of(User.objects.get(email="customer@demo.local")) == ["customer"]
    assert User.objects.count() == 2
    assert OutboxMessage.objects.filter(name="events.user.registered").count() == 2


def test_demo_accounts_are_refused_in_the_real_profile(settings):
    settings.PLATFORM_PROFILE = "real"
    with pytest.raises(CommandError, match="embedded profile only"):
        call_command("load_demo")
    assert not User.objects.exists()
