"""Secrets never shown (issue 11, finding 8): a password reset goes by mail, never into a log; and
after the journeys no process's log and no API answer carries anything shaped like a JWT, a
reset token, a client secret or a card token, nor a secret this run used (the passwords typed,
the reset token mailed, order_service's client secret, the card tokens paid with). Only the
operations that issue a token to its holder answer with one."""

from __future__ import annotations

from conftest import ANSWERS, PASSWORD, Api, new_customer, sign_in

from platform_tools.testing.secrets import find_in_logs, find_secrets
from platform_tools.testing.stack import ORDER_CLIENT
from service_kit.redaction import SECRET_SHAPES

NEW_PASSWORD = "Another-Horse-Battery-7"
#: The operations whose answer is a token for the caller who proved who it is.
ISSUING = {"/api/v1/auth/token/", "/api/v1/auth/token/refresh/", "/api/v1/auth/service-token/"}
#: Secrets this run used, by kind (the reset token is added when it is mailed).
USED = {
    "password": PASSWORD,
    "new_password": NEW_PASSWORD,
    "client_secret": ORDER_CLIENT[1],
    "card_token": "tok_visa",
}


def test_a_password_reset_token_goes_by_mail_only(stack, gateway):
    email, _, _ = new_customer(gateway)

    answer = Api(gateway).ok("POST", "/api/v1/auth/password/reset/", {"email": email}, expect=202)

    assert "token" not in answer
    body = stack.mail.wait_for(to=email).get_content()
    [token] = [
        line.strip() for line in body.splitlines() if SECRET_SHAPES["reset_token"].search(line)
    ]
    USED["reset_token"] = token
    Api(gateway).ok(
        "POST",
        "/api/v1/auth/password/reset/confirm/",
        {"token": token, "new_password": NEW_PASSWORD},
        expect=204,
    )
    assert sign_in(gateway, email, password=NEW_PASSWORD)["access"]


def test_no_log_line_carries_a_secret(stack):
    leaks = find_in_logs(stack.folder / "logs", literals=USED)

    assert "reset_token" in USED  # the reset above ran: its token is looked for too
    assert leaks == [], "\n".join(map(str, leaks[:20]))


def test_no_api_answer_shows_a_secret():
    leaks = [
        leak
        for method, path, status, body in ANSWERS
        if path not in ISSUING
        for leak in find_secrets(body, where=f"{method} {path} {status}", literals=USED)
    ]

    assert len(ANSWERS) > 3
    assert leaks == [], "\n".join(map(str, leaks[:20]))
