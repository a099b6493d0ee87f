"""The architecture contract (.importlinter): it holds on the real tree, every module of app/
has a layer in it, and each kind of forbidden import in a scratch copy makes lint-imports
fail, naming the import."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", "--no-logo"], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_the_real_tree_keeps_every_contract():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def layered_modules() -> set[str]:
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    rows = config["importlinter:contract:layers"]["layers"].strip().splitlines()
    return {name.strip().strip("()") for row in rows for name in row.split(":")}


def test_every_module_of_app_has_a_layer():
    """A new module must be placed in a layer, or the layers contract would not look at it.
    A package's __init__ needs none when its modules have theirs."""
    layered = layered_modules()
    missing = []
    for path in sorted((ROOT / "app").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        module = ".".join(parts[:-1] if is_package else parts)
        if any(module == name or module.startswith(name + ".") for name in layered):
            continue
        if is_package and any(name.startswith(module + ".") for name in layered):
            continue
        missing.append(module)
    assert not missing, f"modules with no layer in .importlinter: {missing}"


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """A copy of what lint-imports reads: app/, tools/ and the contract."""
    root = tmp_path_factory.mktemp("tree")
    for folder in ("app", "tools"):
        shutil.copytree(ROOT / folder, root / folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / ".importlinter", root / ".importlinter")
    return root


# (module that gets the import, the import, what lint-imports must say)
FORBIDDEN = {
    "a model imports a service": (
        "app/models/bag.py", "from app.lookup import queries",
        "app.models is not allowed to import app.lookup.queries"),
    "a service imports a page": (
        "app/audit/services.py", "from app.dashboard.routes import bp",
        "app.audit.services is not allowed to import app.dashboard.routes"),
    "a feature imports another feature's pages": (
        "app/api/dashboard.py", "from app.dashboard.routes import bp as _pages",
        "app.api.dashboard -> app.dashboard.routes"),
    "a page imports the JSON API": (
        "app/health/routes.py", "from app.api.helpers import json_response",
        "app.health.routes is not allowed to import app.api"),
    "a private name of another feature": (
        "app/dashboard/services.py", "from app.auth.passwords import _hasher",
        "app.dashboard.services:1 uses app.auth.passwords._hasher"),
    "a private name through the module": (
        "app/dashboard/services.py", "from app.auth import passwords\nX = passwords._hasher",
        "uses app.auth.passwords._hasher"),
    "the app imports test code": (
        "app/security.py", "import tests.helpers",
        "app is not allowed to import tests"),
    "the app imports an entry point": (
        "app/runtime.py", "import async_handler",
        "app is not allowed to import async_handler"),
}


@pytest.mark.parametrize("case", FORBIDDEN)
def test_a_forbidden_import_breaks_the_contract(scratch, case):
    relative, line, message = FORBIDDEN[case]
    target = scratch / relative
    original = target.read_text()
    target.write_text(f"{line}\n{original}")
    try:
        result = lint_imports(scratch)
    finally:
        target.write_text(original)
    assert result.returncode != 0
    assert message in " ".join(result.stdout.split()), result.stdout
