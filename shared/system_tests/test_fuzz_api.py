"""Every service's OpenAPI schema fuzzed against the running platform (schemathesis).

Each service's own ``/api/schema/`` is loaded from the service and its operations are called with
generated data, directly and through the gateway, with a valid token: a customer's, a staff
member's (the ``admin`` role) and a service identity's, which reach the staff and service-only
code. No answer may be a 5xx, and every answer must match what the schema documents for its
status (body and content type).

The run is reproducible and bounded: a fixed seed (``FUZZ_SEED`` picks another), the schema's
examples, its boundary and negative values (the coverage phase, customers' calls direct), and
``FUZZ_MAX_EXAMPLES`` random cases per operation (default 12). For a deeper run raise it and set
``FUZZ_DEEP=1``: every target then runs every phase.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.pytest.lazy import get_all_tests
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from platform_tools.testing.fuzz import API_SERVICES, running_platform

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "12"))
SEED = int(os.environ.get("FUZZ_SEED", "20261125"))
DEEP = os.environ.get("FUZZ_DEEP", "") not in ("", "0")
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]

ALL_PHASES = ("examples", "coverage", "fuzzing")
#: Without the coverage phase (about 40 cases per operation, the same whoever calls): what a
#: staff or service token adds is reaching the views, not other boundary values.
RANDOM = ALL_PHASES if DEEP else ("examples", "fuzzing")

#: (service whose schema is fuzzed, where requests go, whose token they carry, phases)
TARGETS = [
    *((name, name, "customer", ALL_PHASES) for name in API_SERVICES),
    # Staff and service identities reach the code customers are refused (catalogue writes,
    # stock adjustments, refunds, profile reads); auth's API is the same for everyone.
    *((name, name, "staff", RANDOM) for name in API_SERVICES if name != "auth"),
    *((name, name, "service", RANDOM) for name in ("user", "inventory", "payment")),
    # Through the gateway the same views answer: random cases show that the routes, the token
    # check and the proxying keep every answer whole and documented.
    *((name, "gateway", "customer", RANDOM) for name in API_SERVICES),
]

#: Operations that end the caller's own sessions: each case gets a new customer's token, or the
#: cases after it would all be refused (401) and test nothing.
SESSION_ENDING = {"DELETE /api/v1/auth/me/"}


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    with running_platform(tmp_path_factory.mktemp("fuzz")) as platform:
        yield platform


@pytest.fixture(scope="module")
def tokens(platform):
    return {
        "customer": platform.customer().access,
        "staff": platform.staff(superuser=True).access,
        "service": platform.service_token(),
    }


@pytest.fixture(params=TARGETS, ids=lambda target: "-".join(target[:3]))
def target(request, platform, tokens):
    service, via, who, phases = request.param
    return {
        "name": "-".join(request.param[:3]),
        "phases": phases,
        "schema_url": f"{platform.url(service)}/api/schema/?format=json",
        "base_url": platform.url(via),
        "token": tokens[who],
    }


def load_schema(target) -> schemathesis.BaseSchema:
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "base-url": target["base_url"],
            "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
            "phases": {
                phase: {"enabled": phase in target["phases"]} for phase in ("stateful", *ALL_PHASES)
            },
        }
    )
    return schemathesis.openapi.from_url(target["schema_url"], config=config, timeout=30)


def report(label: str, exc: BaseException) -> str:
    """One operation's failures as schemathesis words them, with the request to replay."""
    parts = [f"{label}: {exc}"]
    parts += [str(failure) for failure in getattr(exc, "exceptions", ())]
    parts += getattr(exc, "__notes__", [])
    return "\n".join(parts)


def test_no_server_errors_and_answers_match_the_schema(target, platform):
    calls = 0

    def call(case):
        nonlocal calls
        calls += 1
        token = target["token"]
        if case.operation.label in SESSION_ENDING:
            token = platform.customer(profile=False).access
        case.call_and_validate(
            headers={"Authorization": f"Bearer {token}"}, checks=CHECKS, timeout=30
        )

    # One Hypothesis test per operation, running the target's phases, built as schemathesis'
    # own pytest integration builds them (its lazy ``from_fixture`` form sets a private attribute
    # that pytest 9 no longer has); one operation's failure does not stop the others.
    schema = load_schema(target)
    failures, tested = [], 0
    for result in get_all_tests(schema=schema, test_func=call, settings=None, given_kwargs={}):
        operation, test = result.ok()  # an operation the schema cannot describe raises here
        tested += 1
        try:
            test()
        except Exception as exc:  # noqa: BLE001 - each is reported once all have run
            failures.append(report(operation.label, exc))
    print(f"{target['name']}: {tested} operations, {calls} requests")
    assert tested, "the schema has no operations"
    assert not failures, "\n\n".join(failures)
