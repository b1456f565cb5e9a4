"""The permission matrix: who may do what, written down as data and walked against what the
service really registers and answers.

Each service keeps its slice of the platform's matrix in ``tests/permission_matrix.toml``::

    [admin."orders.Order"]            # every model in admin.site._registry, by label
    view = ["order_manager", "support", "admin"]
    add = []
    change = ["order_manager", "admin"]
    delete = []
    actions = { cancel_orders = ["order_manager", "admin"] }   # every admin action

    [api."GET api/v1/orders/"]        # every method of every URL pattern the resolver knows
    allow = ["people"]                # subjects or aliases; everyone else is refused

    [[known_failing]]                 # cells the code gets wrong today, each with its finding
    cell = "admin token_blacklist.OutstandingToken view support"
    finding = "issue 11 #1: support reads full refresh tokens"

and calls the walker::

    # order_service/tests/test_permission_matrix.py
    from pathlib import Path
    from platform_tools.testing.permissions import permission_matrix_tests

    (test_admin_models_all_listed, test_api_operations_all_listed, test_admin_cells,
     test_api_cells) = permission_matrix_tests(Path(__file__).with_name("permission_matrix.toml"))

A registered model or a routed operation missing from the table fails (and so does a row for one
that no longer exists). Every cell is then exercised: API cells with a real token signed like
auth_service's (:class:`TokenMint`) for each subject, admin cells with a real admin session of a
staff member in that role, signed in the way the admin's sign-in does it (:func:`admit`, then the
service's credential checker's ``user_for``: a shadow user whose groups are the roles; anonymous
is sent to the sign-in, which refuses customers and second-factor roles without one). A cell in
``known_failing`` must fail, and fails the test once it holds, so that its mark is removed.

Refused means 401 for a request without a token and 403 for one with a token; allowed means any
other answer (a 404 for an object that is not there still says the gate let the caller through).
"""

from __future__ import annotations

import dataclasses
import re
import time
import tomllib
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from service_kit.roles import STAFF_ROLES


def mfa_roles() -> frozenset[str]:
    """Roles that move money or grant roles (``settings.MFA_ROLES``): they act with a second
    factor (``otp`` in the token's ``amr``). Their plain subject carries it; ``<role>:pwd`` is
    the same person signed in with a password only. Another amr variant is one more entry in
    :func:`subjects`."""
    from service_kit.auth.verify import mfa_roles as platform_mfa_roles

    return platform_mfa_roles()


#: The scopes service identities are given (``create_service_client --scopes``).
SERVICE_SCOPES = (
    "payments:charge",
    "payments:read",
    "inventory:read",
    "users:read",
    "console:read",
    "accounts:read",
)

ADMIN_PERMISSIONS = ("view", "add", "change", "delete")
REFUSED_ANONYMOUS = 401
REFUSED = 403


def subjects() -> dict[str, dict[str, Any] | None]:
    """Every caller of the API matrix: its token's claims (None: no token at all)."""
    people: dict[str, dict[str, Any] | None] = {
        "anonymous": None,
        "customer": {"roles": ["customer"], "is_staff": False, "amr": ["pwd"]},
    }
    mfa = mfa_roles()
    for role in STAFF_ROLES:
        amr = ["otp", "pwd"] if role in mfa else ["pwd"]
        people[role] = {"roles": [role], "is_staff": True, "amr": amr}
        if role in mfa:
            people[f"{role}:pwd"] = {"roles": [role], "is_staff": True, "amr": ["pwd"]}
    services: dict[str, dict[str, Any] | None] = {
        f"service:{scope}": {"client_id": f"matrix-{scope}", "scopes": [scope]}
        for scope in SERVICE_SCOPES
    }
    services["service:none"] = {"client_id": "matrix-none", "scopes": []}
    return {**people, **services}


def aliases() -> dict[str, set[str]]:
    """Names for groups of subjects a table may use in ``allow``."""
    every = set(subjects())
    people = {name for name in every if name != "anonymous" and not name.startswith("service:")}
    return {
        "anyone": every,
        "people": people,
        "staff": people - {"customer"},
        "services": {name for name in every if name.startswith("service:")},
    }


def expand(names: list[str]) -> set[str]:
    known, groups = set(subjects()), aliases()
    out: set[str] = set()
    for name in names:
        if name in groups:
            out |= groups[name]
        elif name in known:
            out.add(name)
        else:
            raise AssertionError(f"unknown subject {name!r} (known: {sorted(known | set(groups))})")
    return out


#: The rows of what every service gets from the kit (its models, its routes).
KIT_MATRIX = Path(__file__).with_name("permission_matrix.toml")


def matrix_load(path: Path) -> dict[str, Any]:
    """The kit's rows, then the service's (a service's row replaces the kit's). A kit row for
    a model or route the service does not have is left out (auth_service registers its own user
    model instead of ``auth.User``); a service's own row must exist."""
    matrix: dict[str, Any] = {"admin": {}, "api": {}, "known_failing": {}}
    for source in (KIT_MATRIX, path):
        with open(source, "rb") as file:
            table = tomllib.load(file)
        admin, api = table.get("admin", {}), table.get("api", {})
        if source == KIT_MATRIX:
            registered, routed = admin_models(), api_operations()
            admin = {label: row for label, row in admin.items() if label in registered}
            api = {operation: row for operation, row in api.items() if operation in routed}
        matrix["admin"].update(admin)
        matrix["api"].update(api)
        matrix["known_failing"].update(
            {row["cell"]: row["finding"] for row in table.get("known_failing", [])}
        )
    return matrix


# -- what the service has ----------------------------------------------------------------------


def admin_models() -> dict[str, Any]:
    """Every model registered with the admin, by label, with its ModelAdmin."""
    from django.contrib import admin

    return {model._meta.label: model_admin for model, model_admin in admin.site._registry.items()}


def admin_actions(model_admin) -> set[str]:
    """The model's own admin actions (``delete_selected`` is the ``delete`` cell)."""
    return {name for _, name, _ in model_admin._get_base_actions()} - {"delete_selected"}


def _view_methods(callback) -> list[str]:
    view = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if view is None:
        return ["GET"]  # a function view: what it answers beyond GET the table says with `path`
    return [m.upper() for m in ("get", "post", "put", "patch", "delete") if hasattr(view, m)]


def api_operations() -> dict[str, str]:
    """``"METHOD route"`` → the route, for every pattern the resolver knows outside the admin
    (the admin is the admin matrix's). A route shadowed by an earlier one is walked once."""
    from django.urls import URLPattern, URLResolver, get_resolver

    found: dict[str, str] = {}

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                if "admin" not in (pattern.app_name, pattern.namespace):
                    walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern):
                for method in _view_methods(pattern.callback):
                    found.setdefault(f"{method} {route}", route)

    walk(get_resolver().url_patterns, "")
    return found


_CONVERTER_SAMPLES = {"uuid": "00000000-0000-4000-8000-000000000001", "int": "1"}


def sample_path(route: str) -> str:
    """A concrete path for a route: each parameter filled with a sample of its kind."""

    def fill(match: re.Match) -> str:
        return _CONVERTER_SAMPLES.get(match.group(1) or "str", "matrix")

    path = re.sub(r"<(?:(\w+):)?\w+>", fill, route)
    path = re.sub(r"\(\?P<\w+>[^)]*\)", "matrix", path).lstrip("^").rstrip("$")
    return "/" + path


def matrix_cells(matrix: dict[str, Any]) -> set[str]:
    """Every cell's name, as the tests and ``known_failing`` write it."""
    cells = set()
    for label, row in matrix["admin"].items():
        for role in STAFF_ROLES:
            cells |= {f"admin {label} {name} {role}" for name in ADMIN_PERMISSIONS}
            cells |= {f"admin {label} action:{action} {role}" for action in row.get("actions", {})}
    for operation in matrix["api"]:
        cells |= {f"api {operation} {subject}" for subject in subjects()}
    return cells


# -- asserting the table is complete -----------------------------------------------------------


def assert_same(listed: set[str], real: set[str], what: str) -> None:
    missing, stale = sorted(real - listed), sorted(listed - real)
    assert not missing and not stale, (
        f"the permission matrix must list every {what}: missing {missing}, "
        f"listed but not there {stale}"
    )


# -- exercising cells --------------------------------------------------------------------------


def admin_sign_in(client, role: str, *, prepare: Callable | None = None):
    """A staff member with ``role`` signed in to this admin as its sign-in does it."""
    from service_kit.admin_sso import Identity, admit, credential_checker

    identity = Identity(
        user_id=str(uuid.uuid4()),
        email=f"{role}.{uuid.uuid4().hex[:6]}@matrix.example",
        is_staff=True,
        roles=frozenset({role}),
        amr=frozenset({"pwd", "otp"} if role in mfa_roles() else {"pwd"}),
        jti=uuid.uuid4().hex,
        issued_at=time.time(),
    )
    admit(identity)
    if prepare is not None:
        prepare(identity)
        # Made staff first, signed in after: the roles just given revoked what came before.
        identity = dataclasses.replace(identity, issued_at=time.time())
    user = credential_checker().user_for(identity)
    user.admin_sso_identity = identity  # read by the sign-in's user_logged_in receiver
    client.force_login(user)
    return user


def admin_outsiders_refused(label: str) -> None:
    """Nobody but staff gets an admin session: anonymous is sent to the sign-in, and the sign-in
    refuses a customer and a role of :func:`mfa_roles` without a second factor."""
    from django.test import Client
    from django.urls import reverse

    from service_kit.admin_sso import Identity, SignInRefused, admit

    app_label, model_name = label.lower().split(".")
    url = reverse(f"admin:{app_label}_{model_name}_changelist")
    response = Client().get(url)
    assert response.status_code == 302, (label, "anonymous", response.status_code)
    assert response["Location"].startswith(reverse("admin:login")), response["Location"]
    outsiders = [("customer", False, {"pwd"})] + [(r, True, {"pwd"}) for r in sorted(mfa_roles())]
    for role, is_staff, amr in outsiders:
        identity = Identity(
            user_id=str(uuid.uuid4()),
            email=f"{role}@matrix.example",
            is_staff=is_staff,
            roles=frozenset({role}),
            amr=frozenset(amr),
        )
        with pytest.raises(SignInRefused):
            admit(identity)


def admin_cells_observed(client, label: str) -> dict[tuple[str, str], bool]:
    """``view``, ``add``, ``change``, ``delete``, ``action:<name>`` → allowed, for the signed-in
    person, from their real admin pages: the index's permissions (the ModelAdmin's own
    ``has_*_permission``), the changelist and add page answered 200 or 403, and the actions
    the changelist offers."""
    from django.urls import reverse

    app_label, model_name = label.split(".")
    model_name = model_name.lower()
    index = client.get(reverse("admin:index"))
    assert index.status_code == 200, (label, index.status_code)
    perms = dict.fromkeys(ADMIN_PERMISSIONS, False)
    for app in index.context["app_list"]:
        for entry in app["models"]:
            if entry["model"]._meta.label == label:
                perms.update(entry["perms"])
    observed = {name: bool(perms[name]) for name in ADMIN_PERMISSIONS}

    changelist = client.get(reverse(f"admin:{app_label}_{model_name}_changelist"))
    assert changelist.status_code in (200, 403), (label, "changelist", changelist.status_code)
    assert (changelist.status_code == 200) == observed["view"], (label, "changelist")
    add = client.get(reverse(f"admin:{app_label}_{model_name}_add"))
    assert add.status_code in (200, 403), (label, "add page", add.status_code)
    assert (add.status_code == 200) == observed["add"], (label, "add page")

    if changelist.status_code == 200 and changelist.context.get("action_form") is not None:
        for name, _ in changelist.context["action_form"].fields["action"].choices:
            if name:
                observed[f"action:{name}"] = True
    return observed


def api_cell_observed(client, mint, *, method: str, path: str, subject: str) -> int:
    claims = subjects()[subject]
    headers = {}
    if claims is not None:
        headers = {"HTTP_AUTHORIZATION": f"Bearer {mint.token(**claims)}"}
    kwargs: dict[str, Any] = {}
    if method != "GET":
        kwargs = {"data": b"{}", "content_type": "application/json"}
    return client.generic(method, path, **kwargs, **headers).status_code


def check_cells(
    expected: dict[str, bool], observed: dict[str, bool], known: dict[str, str]
) -> list[str]:
    """The problems: cells that differ (not known to), and known failures that now hold."""
    problems = []
    for cell, allowed in sorted(expected.items()):
        holds = observed[cell] == allowed
        if cell in known and holds:
            problems.append(f"{cell}: now holds; remove it from known_failing ({known[cell]})")
        elif cell not in known and not holds:
            problems.append(
                f"{cell}: expected {'allowed' if allowed else 'refused'}, "
                f"got {'allowed' if observed[cell] else 'refused'}"
            )
    return problems


# -- the tests ---------------------------------------------------------------------------------


def permission_matrix_tests(path: Path, *, prepare_staff: Callable | None = None):
    """Four pytest tests for this service's slice of the matrix: the admin's models and the
    API's operations are all listed, and every admin and API cell holds. ``prepare_staff``
    (identity): makes what the service's credential checker needs before ``user_for`` (in
    auth_service, the person's own row)."""
    matrix = matrix_load(path)
    known = matrix["known_failing"]
    models = sorted(matrix["admin"])
    operations = sorted(matrix["api"])

    @pytest.mark.django_db
    def test_admin_models_all_listed():
        registered = admin_models()
        assert_same(set(matrix["admin"]), set(registered), "model registered with the admin")
        for label, row in matrix["admin"].items():
            assert set(row) <= {*ADMIN_PERMISSIONS, "actions"}, (label, sorted(row))
            assert set(row) >= set(ADMIN_PERMISSIONS), (label, "needs view, add, change, delete")
            assert_same(
                set(row.get("actions", {})), admin_actions(registered[label]), f"action of {label}"
            )

    def test_api_operations_all_listed():
        assert_same(set(matrix["api"]), set(api_operations()), "operation the resolver routes")
        for operation, row in matrix["api"].items():
            assert set(row) <= {"allow", "path"}, (operation, sorted(row))
            expand(row["allow"])
        unknown = sorted(set(known) - matrix_cells(matrix))
        assert not unknown, f"known_failing names cells the matrix does not have: {unknown}"

    @pytest.mark.django_db
    @pytest.mark.parametrize("label", models)
    def test_admin_cells(label):
        from django.test import Client

        admin_outsiders_refused(label)
        row = matrix["admin"][label]
        expected, observed = {}, {}
        for role in STAFF_ROLES:
            client = Client()
            admin_sign_in(client, role, prepare=prepare_staff)
            seen = admin_cells_observed(client, label)
            for name in ADMIN_PERMISSIONS:
                cell = f"admin {label} {name} {role}"
                expected[cell] = role in expand(row[name])
                observed[cell] = seen[name]
            for action, allowed_roles in row.get("actions", {}).items():
                cell = f"admin {label} action:{action} {role}"
                expected[cell] = role in expand(allowed_roles)
                observed[cell] = seen.get(f"action:{action}", False)
        problems = check_cells(expected, observed, known)
        assert not problems, "\n".join(problems)

    @pytest.mark.django_db
    @pytest.mark.parametrize("operation", operations)
    def test_api_cells(client, mint, operation):
        method, route = operation.split(" ", 1)
        row = matrix["api"][operation]
        path_ = row.get("path") or sample_path(route)
        allowed = expand(row["allow"])
        expected, observed, statuses = {}, {}, {}
        for subject in subjects():
            cell = f"api {operation} {subject}"
            status = api_cell_observed(client, mint, method=method, path=path_, subject=subject)
            statuses[cell] = status
            expected[cell] = subject in allowed
            observed[cell] = status not in (REFUSED_ANONYMOUS, REFUSED)
            if not expected[cell] and not observed[cell] and cell not in known:
                # refused the way the contract says: no token 401, a token without the right 403
                want = REFUSED_ANONYMOUS if subjects()[subject] is None else REFUSED
                assert status == want, (cell, status)
        problems = check_cells(expected, observed, known)
        assert not problems, "\n".join(problems) + f"\nstatuses: {statuses}"

    return (
        test_admin_models_all_listed,
        test_api_operations_all_listed,
        test_admin_cells,
        test_api_cells,
    )
