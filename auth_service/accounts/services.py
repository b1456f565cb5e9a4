"""Writes of auth_service: sign-in, tokens and logout; registration, profile changes,
deactivation and erasure; passwords; service identities."""

from __future__ import annotations

import logging
import re
import secrets
import smtplib
import time
import uuid
from collections.abc import Iterable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.auth import authenticate
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from django_otp import devices_for_user
from mfa.services import otp_verify
from rest_framework.exceptions import AuthenticationFailed, ValidationError
from rest_framework_simplejwt.exceptions import TokenError

from service_kit.audit import audit_record
from service_kit.auth import revoke_client, revoke_jti, revoke_user
from service_kit.console import admin_href
from service_kit.messaging import publish_event

from . import guard, staff_sessions
from .models import IssuedRefreshToken, ServiceClient, User
from .tokens import RefreshToken, backend, token_pair

logger = logging.getLogger(__name__)

INVALID_CREDENTIALS = "invalid_credentials"


def token_obtain(
    *, email: str, password: str, address: str, request=None, otp: str = ""
) -> dict[str, str]:
    """A token pair for valid credentials. One answer for a wrong password and an unknown email,
    so the error does not tell which accounts exist. With ``otp``, a current code of one of the
    user's confirmed TOTP devices: the tokens then say ``amr: ["pwd", "otp"]``; a wrong code
    gets the wrong password's answer and counts as a failure."""
    guard.attempt(email, address)
    user = authenticate(request, email=email.strip().lower(), password=password)
    valid = user is not None and user.is_active
    if valid and otp:
        valid = otp_verify(user=user, otp=otp)
    if not valid:
        raise AuthenticationFailed(
            "No active account with these credentials.", code=INVALID_CREDENTIALS
        )
    guard.succeeded(email, address)
    return token_pair(user, amr=["pwd", "otp"] if otp else ["pwd"])


def _refresh_token(raw: str) -> RefreshToken:
    try:
        # SimpleJWT annotates the encoded token as its Token class; it takes the str
        return RefreshToken(raw)  # type: ignore[arg-type]  # checked: signature, expiry, type
    except TokenError as exc:
        raise AuthenticationFailed(str(exc), code="token_not_valid") from exc


def refresh_family_revoke(*, family: uuid.UUID) -> None:
    """End one sign-in: every refresh token descended from it, and the access tokens issued
    with them (refused everywhere through the shared revocation list until they expire)."""
    now = timezone.now()
    access_lifetime = settings.JWT["ACCESS_TOKEN_LIFETIME"]
    with transaction.atomic():
        revoked = list(
            IssuedRefreshToken.objects.select_for_update()
            .filter(family=family, revoked_at__isnull=True)
            .values_list("access_jti", "issued_at")
        )
        IssuedRefreshToken.objects.filter(family=family, revoked_at__isnull=True).update(
            revoked_at=now
        )
    for access_jti, issued_at in revoked:
        expires_at = issued_at.timestamp() + access_lifetime
        if access_jti and expires_at > time.time():  # older ones have expired already
            revoke_jti(access_jti, expires_at)


def token_refresh(*, refresh: str) -> dict[str, str]:
    """Rotate: each refresh token is good for one refresh; claims are read afresh from the user,
    all but how they signed in (``amr``), which the new pair carries on. A token used again (a
    copy in someone else's hands, or a race) revokes its whole family (RFC 9700): the thief and
    the owner both sign in again, and the thief cannot."""
    old = _refresh_token(refresh)
    with transaction.atomic():
        # The row lock makes concurrent refreshes of one token take turns: one wins.
        issued = IssuedRefreshToken.objects.select_for_update().filter(jti=old["jti"]).first()
        if issued is None:
            raise AuthenticationFailed("Token is not known.", code="token_not_valid")
        if issued.used_at is None and issued.revoked_at is None:
            issued.used_at = timezone.now()
            issued.save(update_fields=["used_at"])
            user = User.objects.filter(pk=issued.user_id, is_active=True).first()
            if user is None:
                raise AuthenticationFailed("The account is not active.", code="token_not_valid")
            return token_pair(user, amr=old.get("amr"), family=issued.family)
    # Committed on its own although the caller gets a 401.
    refresh_family_revoke(family=issued.family)
    if issued.used_at is not None:  # not merely revoked (logout, deactivation): used twice
        logger.warning(
            "auth.refresh_token_reused",
            extra={"user_id": str(issued.user_id), "family": str(issued.family)},
        )
    raise AuthenticationFailed(
        "The refresh token was already used: its sign-in has ended.", code="token_not_valid"
    )


def logout(*, refresh: str, access_claims: dict) -> None:
    """End the refresh token's sign-in and revoke the access token's ``jti`` everywhere."""
    token = _refresh_token(refresh)
    if str(token["user_id"]) != str(access_claims.get("user_id")):
        raise AuthenticationFailed("The refresh token is not yours.", code="token_not_valid")
    issued = IssuedRefreshToken.objects.filter(jti=token["jti"]).first()
    if issued is None:
        raise AuthenticationFailed("Token is not known.", code="token_not_valid")
    refresh_family_revoke(family=issued.family)
    revoke_jti(access_claims["jti"], access_claims["exp"])


def revoke_all_refresh_tokens(user: User) -> None:
    """Revoke every live refresh token of the user (expired ones are refused anyway)."""
    IssuedRefreshToken.objects.filter(
        user=user, expires_at__gt=timezone.now(), revoked_at__isnull=True
    ).update(revoked_at=timezone.now())


def user_sessions_end(*, user: User) -> None:
    """Every token the user holds stops working: refresh tokens are revoked here, access
    tokens are refused by every service (the shared revocation list) until they expire."""
    revoke_all_refresh_tokens(user)
    revoke_user(str(user.pk))
    staff_sessions.staff_sessions_end(user=user)


# -- accounts: registration, changes, deactivation, erasure ----------------------------------

EMAIL_TAKEN = "An account with this email address already exists."
PROFILE_FIELDS = frozenset({"email", "first_name", "last_name"})


def email_normalise(email: str) -> str:
    return email.strip().lower()


def _password_check(password: str, *, user: User, field: str) -> None:
    """Django's password validators (settings.AUTH_PASSWORD_VALIDATORS), as a 400 on ``field``."""
    try:
        validate_password(password, user=user)
    except DjangoValidationError as exc:
        raise ValidationError({field: list(exc.messages)}) from None


def _user_data(user: User) -> dict:
    return {
        "user_id": user.pk,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
    }


def user_register(*, email: str, password: str, first_name: str = "", last_name: str = "") -> User:
    """A new customer account; ``user.registered`` leaves in the same transaction."""
    user = User(email=email_normalise(email), first_name=first_name, last_name=last_name)
    errors: dict[str, list[str]] = {}
    if User.objects.filter(email=user.email).exists():
        errors["email"] = [EMAIL_TAKEN]
    try:
        validate_password(password, user=user)
    except DjangoValidationError as exc:
        errors["password"] = list(exc.messages)
    if errors:
        raise ValidationError(errors)
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save(force_insert=True)
            publish_event("user.registered", _user_data(user))
    except IntegrityError:  # the same address registered a moment ago
        raise ValidationError({"email": [EMAIL_TAKEN]}) from None
    logger.info("auth.user_registered", extra={"user_id": str(user.pk)})
    return user


@transaction.atomic
def user_admin_save(*, user: User, changed: Iterable[str], created: bool) -> None:
    """The admin's add and change forms: the row, then what other services must hear of it."""
    changed = set(changed)
    user.email = email_normalise(user.email)
    user.save()
    if created:
        publish_event("user.registered", _user_data(user))
        return
    if changed & PROFILE_FIELDS:
        publish_event("user.updated", _user_data(user))
    if "is_active" in changed and not user.is_active:
        user_deactivate(user=user)


def user_access_of(user: User) -> set[str]:
    """What a person holds: their roles (groups), and ``staff`` and ``superuser`` if flagged."""
    held = set(user.groups.values_list("name", flat=True))
    held |= {flag for flag in ("staff", "superuser") if getattr(user, f"is_{flag}")}
    return held


def user_access_audit(*, user: User, before: set[str], actor: str, reason: str) -> None:
    """Record in the audit trail each role granted or taken away since ``before``."""
    after = user_access_of(user)
    target_url = admin_href("auth", "accounts", "user", user.pk)
    for action, roles in (("role_grant", after - before), ("role_revoke", before - after)):
        for role in sorted(roles):
            audit_record(
                actor=actor,
                action=action,
                target=f"{user.email}: {role}",
                target_url=target_url,
                reason=reason,
                details={"user_id": user.pk, "role": role},
            )


@transaction.atomic
def user_deactivate(*, user: User) -> None:
    """Staff switch an account off: it cannot sign in, and its tokens are refused everywhere."""
    user.is_active = False
    user.save(update_fields=["is_active"])
    user_sessions_end(user=user)
    publish_event("user.deactivated", {"user_id": user.pk})
    logger.info("auth.user_deactivated", extra={"user_id": str(user.pk)})


def account_erase(*, user: User, password: str, address: str) -> None:
    """``DELETE me/``: the account holder erases their account, their password asked again
    (a stolen access token alone must not be enough to destroy an account)."""
    _password_confirm(user=user, password=password, address=address, field="password")
    user_erase(user=user)


def user_access_changed(*, user_ids: Iterable) -> None:
    """The staff flag, superuser flag, active flag or groups (roles) of these people changed, by
    whatever path (accounts.signals): their access tokens end everywhere and their staff
    sessions' state is published again, so every API and admin sees the new roles at their
    next request. Refresh tokens live on: a refresh
    reads the roles afresh. Revoked now, and again once the change is committed: a token issued
    in between still read the old roles."""
    user_ids = [str(pk) for pk in user_ids]

    def revoke() -> None:
        for user_id in user_ids:
            revoke_user(user_id)
        staff_sessions.staff_sessions_republish(user_ids=user_ids)

    revoke()
    transaction.on_commit(revoke)
    for user_id in user_ids:
        logger.info("auth.user_access_changed", extra={"user_id": user_id})


@transaction.atomic
def user_erase(*, user: User) -> None:
    """The account holder's erasure: every personal field scrubbed, the row kept (its id still
    keys its refresh tokens, the admin log and what other services hold), ``user.erased`` so
    they anonymise their part. Signing in, resetting the password and every token stop working.
    """
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.erased_at is not None:
        return
    user_sessions_end(user=user)
    user.email = f"erased+{user.pk.hex}@invalid"
    user.first_name = user.last_name = ""
    user.set_unusable_password()
    user.is_active = user.is_staff = user.is_superuser = False
    user.last_login = None
    user.erased_at = timezone.now()
    user.save()
    user.groups.clear()
    user.user_permissions.clear()
    for device in devices_for_user(user, confirmed=None):  # second-factor secrets
        device.delete()
    LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(User), object_id=str(user.pk)
    ).update(object_repr=user.email)
    publish_event("user.erased", {"user_id": user.pk})
    logger.info("auth.user_erased", extra={"user_id": str(user.pk)})


# -- passwords ---------------------------------------------------------------------------------

WRONG_PASSWORD = "The current password is not correct."  # noqa: S105 - an error message, not a secret
RESET_TOKEN_INVALID = "The password reset token is not valid or has expired."  # noqa: S105 - an error message, not a secret
RESET_SUBJECT = "Reset your password"


def _password_confirm(*, user: User, password: str, address: str, field: str) -> None:
    """The account holder proves it is them, not just their bearer token: counted by the
    sign-in guard like a sign-in (a wrong password is a guess), a 400 on ``field`` if wrong."""
    guard.attempt(user.email, address)
    if not user.check_password(password):
        raise ValidationError({field: [WRONG_PASSWORD]})
    guard.succeeded(user.email, address)


@transaction.atomic
def password_change(*, user: User, old_password: str, new_password: str, address: str) -> None:
    """A new password; every session ends, this one included: the caller signs in again.
    Wrong current passwords count against the account like failed sign-ins."""
    _password_confirm(user=user, password=old_password, address=address, field="old_password")
    _password_check(new_password, user=user, field="new_password")
    user.set_password(new_password)
    user.save(update_fields=["password"])
    user_sessions_end(user=user)
    logger.info("auth.password_changed", extra={"user_id": str(user.pk)})


def password_reset_token(user: User) -> str:
    """``<uidb64>.<token>``: good once (it dies with the password it resets) and for
    ``PASSWORD_RESET_TIMEOUT`` seconds."""
    uidb64 = urlsafe_base64_encode(force_bytes(str(user.pk)))
    return f"{uidb64}.{default_token_generator.make_token(user)}"


def _reset_message(user: User) -> tuple[str, str]:
    token = password_reset_token(user)
    url = settings.PASSWORD_RESET_URL
    link = f"{url}{'&' if '?' in url else '?'}{urlencode({'token': token})}" if url else ""
    body = render_to_string(
        "accounts/password_reset_email.txt",
        {"token": token, "link": link, "minutes": settings.PASSWORD_RESET_TIMEOUT // 60},
    )
    return RESET_SUBJECT, body


def password_reset_request(*, email: str) -> None:
    """Mail a reset token to the account with this address, if there is one. The caller hears
    the same either way; an unknown address costs the same work short of the sending."""
    email = email_normalise(email)
    user = User.objects.filter(email=email, is_active=True).first()
    if user is None or not user.has_usable_password():
        _reset_message(User(email=email, password=make_password(None)))
        logger.info("auth.password_reset_unknown")
        return
    subject, body = _reset_message(user)
    try:
        send_mail(subject, body, None, [user.email])
    except (OSError, smtplib.SMTPException):
        # The answer must not differ from an unknown address's; the user may ask again.
        logger.exception("auth.password_reset_mail_failed", extra={"user_id": str(user.pk)})
        return
    logger.info("auth.password_reset_sent", extra={"user_id": str(user.pk)})


def _reset_user(token: str) -> User:
    uidb64, _, key = token.strip().partition(".")
    try:
        user_id = uuid.UUID(force_str(urlsafe_base64_decode(uidb64)))
    except (TypeError, ValueError):
        user_id = None
    user = (
        User.objects.select_for_update().filter(pk=user_id, is_active=True).first()
        if user_id and key
        else None
    )
    if user is None or not default_token_generator.check_token(user, key):
        raise ValidationError({"token": [RESET_TOKEN_INVALID]})
    return user


@transaction.atomic
def password_reset_confirm(*, token: str, new_password: str) -> None:
    """Set the password a reset token was mailed for; every session ends, and the sign-in
    lockout of the account is lifted (it guarded the password just replaced)."""
    user = _reset_user(token)  # row-locked: two confirmations of one token, one wins
    _password_check(new_password, user=user, field="new_password")
    user.set_password(new_password)
    user.save(update_fields=["password"])
    user_sessions_end(user=user)
    guard.succeeded(user.email)
    logger.info("auth.password_reset", extra={"user_id": str(user.pk)})


# -- service identities ------------------------------------------------------------------------

INVALID_CLIENT = "invalid_client"
SCOPE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]*(:[a-z0-9_.*-]+)*$")


def scopes_clean(scopes: Iterable[str]) -> list[str]:
    """Scopes like ``payments:charge``: sorted, each once; a malformed one is refused."""
    cleaned = sorted({scope.strip() for scope in scopes if scope.strip()})
    bad = [scope for scope in cleaned if not SCOPE_PATTERN.match(scope)]
    if bad:
        raise DjangoValidationError(f"Not a valid scope: {', '.join(bad)} (e.g. payments:charge).")
    return cleaned


def service_client_set_secret(*, client: ServiceClient, secret: str | None = None) -> str:
    """Give the client a new secret (generated unless given) and save it; the secret is stored
    hashed, so the return value is the only time anyone sees it."""
    secret = secret or secrets.token_urlsafe(32)
    client.secret_hash = make_password(secret)
    client.save()
    logger.info("auth.service_client_secret_set", extra={"client_id": client.client_id})
    return secret


def service_client_matches(*, client: ServiceClient, secret: str, scopes: Iterable[str]) -> bool:
    """Whether an existing client already is what setting ``secret`` and ``scopes`` would make
    it: active, those scopes (in any order), that secret. A deployment that registers its clients
    at every upgrade then leaves them untouched: no new hash, no "secret set" in the log."""
    if client.pk is None or not client.is_active:
        return False
    if sorted(client.scopes) != sorted(scopes):
        return False

    def rehash(raw: str) -> None:  # the hasher's settings changed: store the new form
        ServiceClient.objects.filter(pk=client.pk).update(secret_hash=make_password(raw))

    return check_password(secret, client.secret_hash, setter=rehash)


def service_client_save(*, client: ServiceClient, changed: Iterable[str]) -> None:
    """The admin's change form: switching a client off, or changing its scopes, refuses its
    tokens everywhere at once (they carry the old scopes); it asks for new ones."""
    client.save()
    changed = set(changed)
    if ("is_active" in changed and not client.is_active) or "scopes" in changed:
        revoke_client(client.client_id)
        logger.info(
            "auth.service_client_access_changed",
            extra={"client_id": client.client_id, "changed": sorted(changed)},
        )


def service_client_reset_secret(*, client: ServiceClient) -> str:
    """A new secret for a client whose secret may be known to someone else: the tokens issued
    with the old one are refused everywhere at once. Returns the new secret (shown once)."""
    secret = service_client_set_secret(client=client)
    revoke_client(client.client_id)
    return secret


def service_client_delete(*, client: ServiceClient) -> None:
    """A deleted client's tokens are refused everywhere at once, like a deactivated one's."""
    client.delete()
    revoke_client(client.client_id)
    logger.info("auth.service_client_deleted", extra={"client_id": client.client_id})


def service_token_issue(*, client_id: str, client_secret: str) -> dict:
    """A short-lived access token for a service identity: its ``client_id`` and ``scopes``, no
    ``user_id``. An unknown id, a wrong secret and a disabled client get one answer."""
    client = ServiceClient.objects.filter(client_id=client_id, is_active=True).first()

    def rehash(raw: str) -> None:  # the hasher's settings changed: store the new form
        if client is not None:
            ServiceClient.objects.filter(pk=client.pk).update(secret_hash=make_password(raw))

    # With no client, an unusable hash ("!"): check_password still hashes once, so the answer
    # takes as long.
    valid = check_password(
        client_secret, client.secret_hash if client else "!", setter=rehash if client else None
    )
    if client is None or not valid:  # no client: never valid (its hash is unusable)
        logger.info("auth.service_token_refused", extra={"client_id": client_id[:64]})
        raise AuthenticationFailed("Unknown client or wrong secret.", code=INVALID_CLIENT)
    lifetime = int(settings.JWT["SERVICE_TOKEN_LIFETIME"])
    now = time.time()
    payload = {
        "jti": uuid.uuid4().hex,
        # Sub-second, like users' tokens: a revocation refuses what was issued up to its moment.
        "iat": round(now, 6),
        "exp": int(now) + lifetime,
        "token_type": "access",
        "client_id": client.client_id,
        "scopes": list(client.scopes),
    }
    logger.info(
        "auth.service_token_issued", extra={"client_id": client.client_id, "jti": payload["jti"]}
    )
    return {"access": backend.encode(payload), "expires_in": lifetime}
