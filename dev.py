#!/usr/bin/env python3
"""TraceTrack's two commands, with nothing but Python 3.11+ installed:

    python3 dev.py serve   set up .venv, install the pinned requirements, migrate the database,
                           make sure an admin exists, and serve on http://127.0.0.1:5000
    python3 dev.py test    set up .venv with the test tools and run the whole test suite
                           (extra arguments go to pytest)
    python3 dev.py i18n    check the translation catalogs (`i18n update` refreshes them
                           after messages changed; docs/TRANSLATING.md)

Standard library only: this runs before any dependency is installed."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")


def ensure_venv(requirements: str) -> None:
    """Create .venv and install `requirements` when they changed since the last install."""
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py may be started by an older python3
        sys.exit(f"TraceTrack needs Python 3.11 or newer; this is {sys.version.split()[0]}.")
    if not PYTHON.exists():
        print("Creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    files = [ROOT / "requirements.txt", ROOT / requirements]
    digest = hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()
    stamp = VENV / f".installed-{requirements}"
    if stamp.exists() and stamp.read_text() == digest:
        return
    print(f"Installing {requirements} into .venv ...", flush=True)
    run([PYTHON, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "-r", str(ROOT / requirements)])
    stamp.write_text(digest)


def run(command: list, env: dict | None = None) -> None:
    result = subprocess.run([str(part) for part in command], cwd=ROOT, env=env)  # noqa: S603
    if result.returncode != 0:
        sys.exit(result.returncode)


def flask(*args: str, env: dict | None = None) -> None:
    run([PYTHON, "-m", "flask", "--app", "main", *args], env=env)


def serve(args: list[str]) -> None:
    ensure_venv("requirements.txt")
    env = {**os.environ, "APP_ENV": os.environ.get("APP_ENV", "development")}
    if not env.get("DATABASE_URL"):
        print("DATABASE_URL is not set: using the embedded SQLite database in instance/.")
    flask("db", "upgrade", env=env)
    flask("users", "ensure-admin", env=env)
    host = env.get("HOST", "127.0.0.1")
    port = env.get("PORT", "5000")
    print(f"TraceTrack on http://{host}:{port}/  (Ctrl+C stops it)", flush=True)
    if env.get("REQUIRE_2FA_ROLES", "admin").strip():
        print("Admins log in with a second factor (REQUIRE_2FA_ROLES=admin): at its first "
              "login the admin is shown a QR code to scan with an authenticator app on a "
              "phone, types the app's code, and gets ten one-time recovery codes to write "
              "down. For a trial without it: REQUIRE_2FA_ROLES= python3 dev.py serve",
              flush=True)
    print(f"Next: log in at http://{host}:{port}/login as the admin; create users under Users "
          "(or .venv/bin/flask --app main users create NAME --role staff); README.md says more.",
          flush=True)
    command = [str(PYTHON), "-m", "flask", "--app", "main", "run", "--host", host, "--port", port,
               "--no-debugger", "--no-reload", *args]
    if os.name == "posix":
        # The server takes this process's place: a signal to dev.py's pid (Ctrl+C, kill,
        # a process manager) reaches the server itself, and nothing is left serving.
        os.chdir(ROOT)
        os.execve(command[0], command, env)  # noqa: S606
    run(command, env=env)


def test(args: list[str]) -> None:
    ensure_venv("requirements-dev.txt")
    env = {**os.environ, "APP_ENV": "testing"}
    run([PYTHON, "-m", "pytest", *args], env=env)


def i18n(args: list[str]) -> None:
    """The translation catalogs: `update` after changing messages, `check` in CI."""
    ensure_venv("requirements.txt")
    run([PYTHON, "-m", "tools.i18n_catalog", *(args or ["check"])])


def main() -> None:
    commands = {"serve": serve, "test": test, "i18n": i18n}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()
