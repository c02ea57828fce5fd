"""README.rst's first commands and install instructions work as a newcomer meets them: on a
stock Debian or Ubuntu Python (which refuses ``pip install`` outside a virtual environment),
from a clone (the package is on no index), and with tox's skipped interpreters explained.
Issue 15."""
import configparser
import os
import re

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir)


def read(*path):
    with open(os.path.join(ROOT, *path), encoding="utf-8") as f:
        return f.read()


def first_commands():
    """The two commands of the literal block under "Try it, then test it"."""
    readme = read("README.rst")
    match = re.search(r"^Try it, then test it(?:[^\n]*\n)*?[^\n]*::\n\n((?:    [^\n]+\n)+)", readme, re.M)
    assert match, "README.rst lost its first commands"
    return [line.strip() for line in match.group(1).splitlines()]


def test_the_first_command_installs_and_runs_the_demo_in_a_virtual_environment():
    install, test = first_commands()
    assert install == "python3 -m venv .venv && . .venv/bin/activate && pip install . && feishu-msgres demo"
    # the second runs in the environment the first activated; .ci/run runs the same command
    assert test == "pip install tox && tox"
    assert '"%s"' % test in read(".ci", "run")


def test_the_readme_says_how_to_run_every_tox_environment_and_that_ci_does():
    readme = read("README.rst")
    top = readme[:readme.index(".. contents::")]
    tox = configparser.ConfigParser()
    tox.read_string(read("tox.ini"))
    envs = [e.strip() for e in tox["tox"]["envlist"].split(",")]
    assert ", ".join(envs) + "." in " ".join(top.split())
    assert "pyenv install 3.7 3.8 3.9 3.10 3.11 3.12 3.13" in top
    assert "tox --skip-missing-interpreters=false" in top and "skipped" in top


def test_extras_are_installed_from_the_clone_not_from_an_index():
    readme = read("README.rst")
    assert not re.search(r"pip install \"?feishu[-_]msgres\[", readme)
    for extra in ("django", "events"):
        assert 'pip install ".[%s]"' % extra in readme
    install = readme[readme.index("\nInstall\n-------\n"):readme.index("\nQuick start\n")]
    commands = [line.split("#")[0].strip() for line in install.splitlines() if line.startswith("    pip ")]
    assert commands[:3] == ["pip install .", 'pip install ".[django]"', 'pip install ".[events]"']


def test_no_project_url_leads_to_an_index_that_lacks_the_package():
    setup = configparser.ConfigParser()
    setup.read_string(read("setup.cfg"))
    urls = setup["metadata"].get("project_urls", "")
    assert "pypi.org" not in urls
    for line in filter(None, (u.strip() for u in urls.splitlines())):
        assert "CHANGELOG.rst" in line or not line.lower().startswith("changelog")


def test_the_readmes_virtual_environment_is_not_committed():
    ignored = read(".gitignore").split()
    assert ".venv/" in ignored and ".python-version" in ignored
