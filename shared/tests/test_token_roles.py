"""The roles a token lets its holder act in (service_kit.auth.token_user): those of
``settings.MFA_ROLES`` only with a second factor, the rule the admins' sign-in applies too."""

from __future__ import annotations

import pytest

from service_kit.admin_sso import Identity, SignInRefused, admit
from service_kit.auth import token_user
from service_kit.auth.permissions import HasRole

TWO_FACTORS = ["pwd", "otp"]


class Request:
    def __init__(self, user):
        self.user = user


def person(roles, amr) -> dict:
    return {
        "user_id": "u-1",
        "email": "kim@example.com",
        "is_staff": True,
        "roles": roles,
        "amr": amr,
    }


@pytest.mark.parametrize(
    ("roles", "amr", "acting"),
    [
        (["admin"], ["pwd"], set()),
        (["admin"], TWO_FACTORS, {"admin"}),
        (["payment_manager", "support"], ["pwd"], {"support"}),
        (["payment_manager", "support"], TWO_FACTORS, {"payment_manager", "support"}),
        (["inventory_manager"], ["pwd"], {"inventory_manager"}),
        (["catalogue_manager"], None, {"catalogue_manager"}),
        (["admin"], None, set()),
        (["admin"], "otp", set()),  # not a list: no second factor proven
        (["customer"], ["pwd"], {"customer"}),
    ],
)
def test_mfa_roles_need_otp_in_amr(roles, amr, acting):
    assert token_user(person(roles, amr)).roles == acting


@pytest.mark.parametrize(
    ("roles", "amr", "allowed"),
    [
        (["admin"], ["pwd"], False),
        (["admin"], TWO_FACTORS, True),  # admin may do everything
        (["payment_manager"], ["pwd"], False),
        (["inventory_manager"], ["pwd"], True),
    ],
)
def test_has_role_reads_the_roles_a_token_may_act_in(roles, amr, allowed):
    permission = HasRole("inventory_manager", "payment_manager")()
    request = Request(token_user(person(roles, amr)))
    assert permission.has_permission(request, view=None) is allowed


def test_one_setting_rules_the_api_and_the_admins(settings):
    settings.MFA_ROLES = ["catalogue_manager"]
    assert token_user(person(["catalogue_manager", "admin"], ["pwd"])).roles == {"admin"}
    who = Identity(
        "u-1", "kim@example.com", True, frozenset({"catalogue_manager"}), frozenset({"pwd"})
    )
    with pytest.raises(SignInRefused) as refused:
        admit(who)
    assert refused.value.code == "second_factor_required"
