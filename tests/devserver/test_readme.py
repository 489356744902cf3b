"""The walk-through runs top to bottom as written: the `sh`/`bash` blocks of the README, then of
docs/teams.md and docs/events.md where it goes on, in order, in one bash with `set -euo pipefail`,
against a running `make dev` server over a fresh database, on the port given as `PORT`. Every
`curl` in it says `--fail-with-body`, so a step that answers a problem stops the run (and a wrong
port fails loudly). Skipped: blocks marked `<!-- not part of the walk-through test -->`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from tests.servers import ROOT, DevServer

FENCE = re.compile(r"^```(\w*)\s*$")
SKIP_MARK = "<!-- not part of the walk-through test"
SKIP_SECTIONS = ("## Deploy to Google Cloud",)
PRELUDE = "set -euo pipefail\n"
# Where the walk-through goes, page after page, in one shell.
PAGES = ("README.md", "docs/teams.md", "docs/events.md")


def pages_walkthrough() -> list[str]:
    return [block for page in PAGES for block in walkthrough((ROOT / page).read_text())]


def walkthrough(text: str) -> list[str]:
    """The shell blocks a reader runs, in order."""
    blocks: list[str] = []
    section, language, lines, previous = "", None, [], ""
    for line in text.splitlines():
        if language is None:
            if line.startswith("## "):
                section = line
            opened = FENCE.match(line)
            if opened:
                language, lines = opened.group(1), []
                skipped = previous.startswith(SKIP_MARK) or section.startswith(SKIP_SECTIONS)
            elif line.strip():
                previous = line.strip()
        elif FENCE.match(line):
            if language in ("sh", "bash") and not skipped:
                blocks.append("\n".join(lines))
            language, previous = None, ""
        else:
            lines.append(line)
    return blocks


def test_the_extraction_finds_the_walkthrough_and_leaves_out_what_it_should():
    blocks = pages_walkthrough()

    assert len(blocks) >= 6
    assert all(line.count("curl ") == line.count("curl --fail-with-body") for b in blocks for line in b.splitlines())
    assert "${PORT:-8080}" in blocks[0]
    assert not any("make dev" in b.split("#")[0] for b in blocks)  # the server is the test's
    assert not any("gcloud" in b or "terraform" in b for b in blocks)
    assert any("create-user" in b for b in blocks) and any("/releases/rollback" in b for b in blocks)


def test_the_readme_walkthrough_runs_top_to_bottom(dev_server: DevServer):
    for tool in ("jq", "curl"):
        if shutil.which(tool) is None:
            pytest.skip(f"the README's examples use {tool}, which is not installed here (apt install {tool})")
    script = PRELUDE + "\n".join(pages_walkthrough())
    port = dev_server.base.rsplit(":", 1)[1]
    env = {**os.environ, "PORT": port}

    result = subprocess.run(
        ["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )

    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    said = result.stdout.split()
    assert said[0] == "ok" and "cancelled" in said and said[-1] == "1.4.0"  # what the comments promise
