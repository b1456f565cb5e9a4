"""make images-check's pure helpers: the apt mirror read from the machine's sources, the pip
configuration a build gets, the compose file's image variables. (The check itself, Docker and
all, is ``make images-check``: too slow for ``make test``.)"""

from __future__ import annotations

import re

from platform_tools.testing.delivery import stack_check
from service_kit.conf import REPO_ROOT

DEB822 = """\
Types: deb
# a comment
URIs: http://mirror.example.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example.org/debian-security
Suites: bookworm-security
Components: main
"""


def test_the_mirror_comes_from_deb822_sources_and_skips_disabled_files(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d/debian.sources").write_text(DEB822)
    (tmp_path / "sources.list.d/other.list.disabled").write_text(
        "deb http://elsewhere.example.org/debian bookworm main\n"
    )
    sources = stack_check.apt_sources(tmp_path)
    assert sources == [
        ("http://mirror.example.org/debian", ["bookworm", "bookworm-updates"]),
        ("http://mirror.example.org/debian-security", ["bookworm-security"]),
    ]
    assert stack_check.debian_mirror(sources) == "http://mirror.example.org/debian"


def test_the_mirror_comes_from_one_line_sources_with_options(tmp_path):
    (tmp_path / "sources.list").write_text(
        "# deb http://commented.example.org/debian bookworm main\n"
        "deb-src http://src.example.org/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://one.example.org/debian/ bookworm main\n"
    )
    sources = stack_check.apt_sources(tmp_path)
    assert stack_check.debian_mirror(sources) == "http://one.example.org/debian"


def test_no_source_for_the_suite_is_said(tmp_path):
    (tmp_path / "sources.list").write_text("deb http://x.example.org/debian trixie main\n")
    try:
        stack_check.debian_mirror(stack_check.apt_sources(tmp_path))
    except stack_check.CheckFailed as exc:
        assert "bookworm" in str(exc)
    else:
        raise AssertionError("a missing bookworm source passed")


def test_a_build_gets_the_hosts_network_indexes_and_the_ca_bundle():
    config = (
        "global.cert='/etc/ssl/certs/ca-certificates.crt'\n"
        "global.index-url='https://pypi.example.org/simple'\n"
        "global.extra-index-url='file:///srv/wheels/simple https://more.example.org/simple'\n"
        "global.find-links='/srv/wheels'\n"
        ":env:.find-links='/srv/other'\n"
        "global.trusted-host='pypi.example.org'\n"
    )
    conf, left_out = stack_check.pip_conf(config, "/etc/ssl/certs/host.crt")
    assert conf.splitlines() == [
        "[global]",
        "cert = /etc/ssl/certs/host.crt",
        "index-url = https://pypi.example.org/simple",
        "extra-index-url = https://more.example.org/simple",
        "trusted-host = pypi.example.org",
    ]
    assert left_out == ["extra-index-url file:///srv/wheels/simple", "find-links /srv/other"]


def test_every_third_party_image_of_compose_is_a_variable_defaulting_to_the_official_one():
    text = (REPO_ROOT / "compose/docker-compose.yml").read_text()
    defaults = stack_check.image_defaults(text)
    assert {
        "POSTGRES_IMAGE",
        "RABBITMQ_IMAGE",
        "REDIS_IMAGE",
        "MINIO_IMAGE",
        "BUSYBOX_IMAGE",
    } <= set(defaults) and {
        "MAILPIT_IMAGE",
        "PROMETHEUS_IMAGE",
        "FLOWER_IMAGE",
        "GRAFANA_IMAGE",
    } <= set(defaults)
    assert defaults["POSTGRES_IMAGE"].startswith("postgres:")
    assert not any(value.startswith("local/") for value in defaults.values())
    # every other image is the platform's own
    others = [i for i in re.findall(r"image: (\S+)", text) if not i.startswith("${")]
    assert others == []
    assert all(variable in stack_check.image_defaults(text) for variable in stack_check.STAND_INS)


def test_the_env_file_replaces_every_example_secret():
    made = stack_check.env_file("A=1\nB_PASSWORD=change-me-b\nC_KEY=change-me-c-0123\n")
    lines = made.splitlines()
    assert lines[0] == "A=1" and "change-me" not in made
    assert re.fullmatch(r"B_PASSWORD=[0-9a-f]{32}", lines[1])
    assert lines[1] != lines[2].replace("C_KEY", "B_PASSWORD")


def test_the_env_example_names_the_same_images_as_the_compose_files_defaults():
    text = (REPO_ROOT / "compose/docker-compose.yml").read_text()
    example = dict(
        line.split("=", 1)
        for line in (REPO_ROOT / "compose/.env.example").read_text().splitlines()
        if "_IMAGE=" in line and not line.startswith("#")
    )
    assert example == stack_check.image_defaults(text)
