"""Who signed in at an admin, as auth_service's token says, and who may enter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from service_kit.auth.verify import mfa_roles
from service_kit.roles import STAFF_ROLES

INVALID_CREDENTIALS = "invalid_credentials"
NOT_STAFF = "not_staff"
SECOND_FACTOR_REQUIRED = "second_factor_required"
THROTTLED = "throttled"
UNAVAILABLE = "unavailable"

_STAFF_ONLY = (
    "Please enter the correct email address and password for a staff account. "
    "Note that both fields may be case-sensitive."
)
MESSAGES = {
    # A customer hears what a wrong password hears, as in Django's own admin.
    INVALID_CREDENTIALS: _STAFF_ONLY,
    NOT_STAFF: _STAFF_ONLY,
    SECOND_FACTOR_REQUIRED: (
        "This account needs a second factor: enter the one-time code from your authenticator app."
    ),
    THROTTLED: "Too many failed sign-ins. Try again later.",
    UNAVAILABLE: "Signing in is not possible right now (the identity service did not answer). "
    "Try again shortly.",
}


class SignInRefused(Exception):
    """Nobody is signed in; ``code`` says why (logs), ``message`` what the form shows."""

    def __init__(self, code: str):
        super().__init__(MESSAGES[code])
        self.code = code
        self.message = MESSAGES[code]


@dataclass(frozen=True)
class Identity:
    """A person auth_service vouched for: its user id, claims and how they proved it (``amr``)."""

    user_id: str
    email: str
    is_staff: bool
    roles: frozenset[str]
    amr: frozenset[str]
    jti: str | None = None
    issued_at: float = 0.0
    #: The staff session (single sign-on) this sign-in belongs to, kept by auth_service.
    session: str | None = None
    active: bool = True

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> Identity:
        return cls(
            user_id=str(claims["user_id"]),
            email=str(claims.get("email") or ""),
            is_staff=bool(claims.get("is_staff", False)),
            roles=frozenset(claims.get("roles") or ()),
            amr=frozenset(claims.get("amr") or ()),
            jti=claims.get("jti"),
            issued_at=float(claims.get("iat") or 0),
            session=claims.get("sid"),
            active=bool(claims.get("is_active", True)),
        )

    @property
    def staff_roles(self) -> frozenset[str]:
        """The claimed roles the platform knows as staff roles (``customer`` is none)."""
        return self.roles.intersection(STAFF_ROLES)


def admit(identity: Identity) -> None:
    """Staff with a staff role enter; roles in ``settings.MFA_ROLES`` (refunds, admin) only
    with a one-time code, the rule every API applies to tokens. Raises :class:`SignInRefused`
    otherwise."""
    if (
        not identity.is_staff
        or not identity.active
        or not identity.email
        or not identity.staff_roles
    ):
        raise SignInRefused(NOT_STAFF)
    needs_otp = identity.staff_roles.intersection(mfa_roles())
    if needs_otp and "otp" not in identity.amr:
        raise SignInRefused(SECOND_FACTOR_REQUIRED)
