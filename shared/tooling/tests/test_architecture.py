"""The import contracts are built from the list of services: a service added to it is held to
every contract at once, and a broken boundary fails ``make lint-imports``."""

from __future__ import annotations

import shutil

from platform_tools.testing import architecture
from service_kit.platform import SERVICES, Service


def test_a_new_service_is_in_every_contract(tmp_path):
    folder = tmp_path / "review_service"
    for package in ("review_service", "reviews", "tests"):
        (folder / package).mkdir(parents=True)
        (folder / package / "__init__.py").write_text("")
    review = Service("review", "review_service", 8007, base=tmp_path)

    config = architecture.code_contracts([*SERVICES, review])
    contracts = {c["name"]: c for c in config["contracts"]}

    assert {"review_service", "reviews"} <= set(config["root_packages"])
    assert "tests" not in config["root_packages"]
    own = contracts["review_service imports no other service"]
    assert own["source_modules"] == ["review_service", "reviews"]
    assert {"orders", "order_service", "edge"} <= set(own["forbidden_modules"])
    for service in SERVICES:
        assert (
            "reviews"
            in contracts[f"{service.folder} imports no other service"]["forbidden_modules"]
        )
    assert "reviews" in contracts["The kit imports no service and no tooling"]["forbidden_modules"]
    assert "reviews" in contracts["Services import the kit's public names only"]["source_modules"]
    assert (
        "reviews" in contracts["Apps are layered: views, services, selectors, models"]["containers"]
    )
    assert (
        "review_service"
        not in contracts["Apps are layered: views, services, selectors, models"]["containers"]
    )
    assert "reviews" in contracts["No import cycles"]["ancestors"]


def test_one_service_importing_another_breaks_the_contracts(tmp_path, capsys):
    copies = []
    for service in SERVICES:
        shutil.copytree(
            service.path, tmp_path / service.folder, ignore=shutil.ignore_patterns("__pycache__")
        )
        copies.append(Service(service.name, service.folder, service.port, base=tmp_path))
    catalogue = tmp_path / "product_service" / "catalogue" / "selectors.py"
    catalogue.write_text(catalogue.read_text() + "\nimport orders.models  # noqa\n")

    ok = architecture.lint_imports(
        architecture.code_contracts(copies), [s.path for s in copies], "copies"
    )

    assert not ok
    out = capsys.readouterr().out
    assert "product_service imports no other service BROKEN" in out
    assert "catalogue.selectors -> orders.models" in out
    assert "order_service imports no other service KEPT" in out
