"""The real profile refuses to start without a mail transport: the console backend printed every
password reset's token into the logs shipped to Elasticsearch (issue 11, finding 8).

auth_service's own ``manage.py check`` on the real profile, as its migration Job runs it before
any of its processes starts."""

from __future__ import annotations

import subprocess
import sys

import pytest

from service_kit.platform import BY_NAME


def check(harness, **env: str) -> subprocess.CompletedProcess:
    auth = BY_NAME["auth"]
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=auth.path,
        env=harness.env_for(auth, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("email_url", "backend"),
    [
        ("", "console"),  # no EMAIL_URL: the console was the default
        ("consolemail://", "console"),
        ("memorymail://", "locmem"),
        ("dummymail://", "dummy"),
    ],
)
def test_the_real_profile_refuses_a_mail_backend_that_sends_nothing(
    harness_factory, email_url, backend
):
    result = check(harness_factory("real"), EMAIL_URL=email_url)

    assert result.returncode == 1
    assert (
        "?: (service_kit.E005) The real profile needs a mail transport, not "
        f"django.core.mail.backends.{backend}.EmailBackend.\n"
        "\tHINT: Set EMAIL_URL (or EMAIL_URL_FILE), e.g. "
        "smtp+tls://user:password@smtp.example.com:587."
    ) in result.stderr


def test_the_real_profile_starts_with_an_smtp_transport(harness_factory):
    harness = harness_factory("real")

    result = check(harness, EMAIL_URL=harness.mail.url)

    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == "System check identified no issues (0 silenced).\n"
