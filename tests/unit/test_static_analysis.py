"""bandit's findings are exactly those docs/security.md explains: a new one (or one that
went away) fails here, so the table stays true."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ROW = re.compile(r"^\| (B\d{3}) [^|]*\| (src/\S+) \| (\d+) \|", re.MULTILINE)


def test_every_bandit_finding_is_explained_in_docs_security():
    run = subprocess.run(
        [sys.executable, "-m", "bandit", "-q", "-r", "src", "-f", "json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.stdout, run.stderr
    found = Counter((r["test_id"], r["filename"]) for r in json.loads(run.stdout)["results"])
    documented = {
        (test_id, path): int(count)
        for test_id, path, count in ROW.findall((REPO / "docs" / "security.md").read_text())
    }
    assert documented, "docs/security.md has no table of bandit findings"
    assert dict(found) == documented
