"""Issue 24, part 3: migrations are expand-then-contract (docs/DEPLOYMENT.md), so during a
rolling deploy the previous release's code scans correctly on the new schema. "The previous
release" is the code just before the newest schema change: the first parent of the last
commit (on the first-parent line) that touched migrations/versions, or PREVIOUS_RELEASE. Its
own files (`git archive`) run its scan path through its own app against the database this
suite migrated to head; the new code then reads what it wrote and the invariants hold."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.deploy.support import say
from tests.helpers import PASSWORD, log_in, pg_only

pytestmark = [pg_only, pytest.mark.deploy]
ROOT = Path(__file__).resolve().parents[2]

OLD_CODE_SCANS = r"""
import json, sys
from app import create_app
url, username, password = sys.argv[1:4]
app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url})
client = app.test_client()
login = client.post("/login", data={"username": username, "password": password})
steps = [
    ("login", None, None),
    ("parent", "/api/v1/scans/parent", {"code": "SB77001"}),
    ("child", "/api/v1/scans/child", {"parent": "SB77001", "code": "OLD00001", "scan_id": "old-1"}),
    ("resend", "/api/v1/scans/child", {"parent": "SB77001", "code": "OLD00001", "scan_id": "old-1"}),
    ("child2", "/api/v1/scans/child", {"parent": "SB77001", "code": "OLD00002", "scan_id": "old-2"}),
    ("undo", "/api/v1/scans/undo", {"parent": "SB77001"}),
    ("new_parent", "/api/v1/scans/parent", {"code": "SB77002"}),
    ("into_new", "/api/v1/scans/child", {"parent": "SB77002", "code": "OLD00003", "scan_id": "old-3"}),
    ("lookup", "/api/v1/bags/SB77001", None),
]
answers = {"login": login.status_code}
for name, path, body in steps[1:]:
    response = client.post(path, json=body) if body is not None else client.get(path)
    data = response.get_json(silent=True) or {}
    answers[name] = [response.status_code, data.get("result") or data.get("code")]
print(json.dumps(answers))
"""


def _previous_release() -> str | None:
    if os.environ.get("PREVIOUS_RELEASE"):
        return os.environ["PREVIOUS_RELEASE"]
    try:
        last = subprocess.run(["git", "log", "--first-parent", "-1", "--format=%H", "--",
                               "migrations/versions"], cwd=ROOT, capture_output=True,
                              text=True, timeout=30, check=True).stdout.strip()
        if not last:
            return None
        return subprocess.run(["git", "rev-parse", f"{last}^1"], cwd=ROOT, capture_output=True,
                              text=True, timeout=30, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def test_the_previous_release_scans_on_the_new_schema(app, database_url, make_user, tmp_path):
    commit = _previous_release()
    if commit is None or not shutil.which("git"):
        pytest.skip("no git history here to find the previous release (set PREVIOUS_RELEASE)")
    archive = tmp_path / "previous.tar"
    with open(archive, "wb") as handle:
        subprocess.run(["git", "archive", "--format=tar", commit], cwd=ROOT, stdout=handle,
                       timeout=60, check=True)
    old_root = tmp_path / "previous"
    with tarfile.open(archive) as tar:
        tar.extractall(old_root, filter="data")
    old_heads = sorted(path.name for path in (old_root / "migrations/versions").glob("*.py"))
    new_heads = sorted(path.name for path in (ROOT / "migrations/versions").glob("*.py"))
    assert old_heads != new_heads, "the previous release should predate the newest migration"

    make_user("oldcode", role="staff")
    env = {**os.environ, "PYTHONPATH": str(old_root)}
    env.pop("TEST_DATABASE_URL", None)
    result = subprocess.run([str(ROOT / ".venv/bin/python"), "-c", OLD_CODE_SCANS, database_url,
                             "oldcode", PASSWORD], cwd=old_root, env=env, capture_output=True,
                            text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    answers = json.loads(result.stdout.strip().splitlines()[-1])
    say(f"previous release {commit[:10]} on the schema of {new_heads[-1]}: {answers}")
    assert answers["login"] in (200, 302)
    assert answers["parent"] == [201, "parent_created"]
    assert answers["child"] == [201, "linked"]
    assert answers["resend"] == [200, "replayed"]
    assert answers["child2"] == [201, "linked"]
    assert answers["undo"] == [200, "unlinked"]
    assert answers["new_parent"] == [201, "parent_created"]
    assert answers["into_new"] == [201, "linked"]
    assert answers["lookup"][0] == 200

    # The new code reads what the old code wrote, and the database's invariants hold.
    from app.extensions import db
    from app.scanning.invariants import broken_invariants

    client = app.test_client()
    log_in(client, "oldcode")
    trace = client.get("/api/v1/bags/SB77001").get_json()
    assert trace["child_count"] == 1 and [child["code"] for child in trace["children"]] == ["OLD00001"]
    assert client.get("/api/v1/bags/OLD00003").get_json()["parent"] == "SB77002"
    assert broken_invariants(db.session) == {}
