"""No log line carries a token, password, secret or card token (issue 11, finding 8): the kit's
log filter, on records crafted as the services' code and libraries write them, through the
handler and ECS formatter every service logs with (service_kit.conf.logging_settings)."""

from __future__ import annotations

import base64
import io
import json
import logging
import logging.config
import re
import secrets
import uuid

import jwt
import pytest
import yaml

from platform_tools.testing.secrets import find_secrets
from service_kit.conf import REPO_ROOT, logging_settings

JWT = jwt.encode({"user_id": "42", "token_type": "refresh"}, "k" * 32, algorithm="HS256")
USER_ID = uuid.UUID("6f1c2a8e-3b4d-4e5f-8a9b-0c1d2e3f4a5b")
UIDB64 = base64.urlsafe_b64encode(str(USER_ID).encode()).decode().rstrip("=")
RESET = f"{UIDB64}.cjk3qz-0123456789abcdef0123456789abcdef"
#: What stays of it: the user id and the time it was made, not the HMAC that makes it work.
RESET_REDACTED = f"{UIDB64}.cjk3qz[redacted]"
CLIENT_SECRET = "Zk3-q_9XbQ2mT7vLr8yPw4NcA1sEd6HgJ0uIo5KfUeY"  # token_urlsafe(32)'s shape


@pytest.fixture
def log():
    """``log(level, msg, *args, **kwargs)``: the one JSON document the service writes."""
    config = logging_settings("auth")
    config["handlers"]["console"]["stream"] = "ext://sys.stdout"
    config["root"] = {"handlers": [], "level": "INFO"}
    config["loggers"] = {"redaction.test": {"handlers": ["console"], "propagate": False}}
    out = io.StringIO()
    logging.config.dictConfig(config)
    logger = logging.getLogger("redaction.test")
    logger.handlers[0].setStream(out)

    def write(method: str, msg: str, *args, **kwargs) -> dict:
        out.seek(0)
        out.truncate()
        getattr(logger, method)(msg, *args, **kwargs)
        line = out.getvalue()
        assert line.count("\n") == 1, line
        return json.loads(line)

    yield write
    logging.config.dictConfig(logging_settings("kit"))  # the suite's own settings again


@pytest.mark.parametrize(
    ("msg", "args", "expected"),
    [
        ("auth.token_issued %s", (JWT,), "auth.token_issued [redacted]"),
        ("Authorization: Bearer %s", (JWT,), "Authorization: Bearer [redacted]"),
        (
            f"Reset your password: https://shop.example.com/reset?token={RESET}",
            (),
            f"Reset your password: https://shop.example.com/reset?token={RESET_REDACTED}",
        ),
        (
            "payment.charge %s declined",
            ("tok_chargeDeclined",),
            "payment.charge [redacted] declined",
        ),
        (f"client order secret {CLIENT_SECRET}", (), "client order secret [redacted]"),
    ],
)
def test_secrets_in_the_message_and_its_arguments_are_redacted(log, msg, args, expected):
    line = log("info", msg, *args)

    assert line["message"] == expected
    assert find_secrets(json.dumps(line)) == []


def test_secret_extra_fields_are_redacted_by_name_and_by_shape(log):
    order_id = str(uuid.uuid4())
    digest = secrets.token_hex(32)

    line = log(
        "info",
        "order.placed",
        extra={
            "order_id": order_id,
            "password": "Correct-Horse-Battery-9",
            "client_secret": "short",
            "payment_token": "anything-at-all",
            "Authorization": "Basic b3JkZXI6c2VjcmV0",
            "digest": digest,
            "data": {"payment_token": "tok_visa", "lines": [{"sku": "MUG", "note": JWT}]},
            "empty_token": "",
        },
    )

    assert line["message"] == "order.placed"
    assert line["order_id"] == order_id  # ids and digests stay: they are not secrets
    assert line["digest"] == digest
    assert line["password"] == "[redacted]"
    assert line["client_secret"] == "[redacted]"
    assert line["payment_token"] == "[redacted]"
    assert line["Authorization"] == "[redacted]"
    assert line["data"] == {
        "payment_token": "[redacted]",
        "lines": [{"sku": "MUG", "note": "[redacted]"}],
    }
    assert line["empty_token"] == ""
    assert line["service"] == {"name": "auth"}


def test_an_exceptions_text_is_redacted(log):
    try:
        raise ValueError(f"token {JWT} refused for {RESET}")
    except ValueError:
        line = log("exception", "auth.refresh_failed")

    assert line["message"] == "auth.refresh_failed"
    assert line["error"]["type"] == "ValueError"
    assert line["error"]["message"] == f"token [redacted] refused for {RESET_REDACTED}"
    assert "test_an_exceptions_text_is_redacted" in line["error"]["stack_trace"]
    assert find_secrets(json.dumps(line)) == []


def test_an_exception_without_secrets_is_written_as_before(log):
    try:
        raise KeyError("sku")
    except KeyError:
        line = log("exception", "stock.missing")

    assert line["error"]["type"] == "KeyError"
    assert line["error"]["message"] == "'sku'"
    assert "raise KeyError" in line["error"]["stack_trace"]


def test_a_line_without_secrets_is_unchanged(log):
    request_id = uuid.uuid4().hex

    line = log(
        "info", "http.request", extra={"url.path": "/api/v1/orders/", "request_id": request_id}
    )

    assert line["message"] == "http.request"
    assert line["url"] == {"path": "/api/v1/orders/"}
    assert line["http"]["request"]["id"] == request_id


def test_filebeat_cuts_what_slips_past_the_services_filter():
    """compose's Filebeat (Go regular expressions, no look-arounds) cuts the same secrets out of
    the text fields it ships, and drops secret-named fields whole."""
    config = yaml.safe_load((REPO_ROOT / "compose/filebeat/filebeat.yml").read_text())
    replace = next(p["replace"] for p in config["processors"] if "replace" in p)
    dropped = next(p["drop_fields"] for p in config["processors"] if "drop_fields" in p)
    line = f"printed {JWT} and {RESET} for tok_visa"

    for field in ("message", "error.message", "error.stack_trace"):
        text = line
        for rule in (r for r in replace["fields"] if r["field"] == field):
            assert "(?=" not in rule["pattern"] and "(?<" not in rule["pattern"]
            text = re.sub(rule["pattern"], rule["replacement"], text)
        assert text == "printed [redacted] and [redacted] for [redacted]", field
    assert {"password", "client_secret", "payment_token"} <= set(dropped["fields"])


def test_the_shapes_find_real_secrets_and_leave_ids_alone():
    """The detector's shapes on secrets made as the services make them, and on the ids, digests
    and form tokens that fill logs and pages."""
    made = [secrets.token_urlsafe(32) for _ in range(200)]  # create_service_client's secrets

    assert [leak.kind for s in made for leak in find_secrets(f"secret: {s}.")] == [
        "client_secret"
    ] * 200
    assert [leak.kind for leak in find_secrets(f"Bearer {JWT}")] == ["jwt"]
    assert [leak.kind for leak in find_secrets(f"?token={RESET}&x=1")] == ["reset_token"]
    assert [leak.kind for leak in find_secrets('"payment_token": "tok_visa"')] == ["card_token"]
    innocent = [
        str(uuid.uuid4()),
        uuid.uuid4().hex,
        secrets.token_hex(32),  # a SHA-256 digest, an S3 signature
        secrets.token_hex(32)[:43],
        "a" * 64,
        "csrfmiddlewaretoken" + "=" + "x7" * 32,  # Django's form token: 64 characters
        "test_the_real_profile_refuses_a_mail_backend",  # 43 characters, one case
        "stock_tokens",
        f"order-{uuid.uuid4()}",
        f"probe-{uuid.uuid4().hex}",  # a request id: a dash and 32 hex, but no timestamp
    ]
    assert [find_secrets(text) for text in innocent] == [[]] * len(innocent)


def test_a_public_key_is_not_a_secret_and_a_private_key_is():
    """A signing key's admin page shows its public key as PEM, lines joined by <br>: split at '+'
    and '/', its base64 held a 43-character run shaped like a client secret in about one key of
    ten. Inside a public PEM block nothing counts; a private key's armour always does."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    keys = [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(40)]
    pages = [
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
        .replace("\n", "<br>")
        for key in keys
    ]
    assert [find_secrets(f"<p>{page}</p>") for page in pages] == [[]] * len(pages)
    # the same base64 outside its armour is searched as any text is (the shapes still apply)
    bare = "".join(page.split("-----")[2] for page in pages)
    assert {leak.kind for leak in find_secrets(bare)} <= {"client_secret"}
    private = keys[0].private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    assert "private_key" in {leak.kind for leak in find_secrets(private.decode())}
    leaked = f"{pages[0]} {secrets.token_urlsafe(32)}"
    assert [leak.kind for leak in find_secrets(leaked)] == ["client_secret"]
