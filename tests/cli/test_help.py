"""`relman --help` and every command's help show an example; shell completion is there; help is fast."""

from __future__ import annotations

import subprocess

import pytest

from tests.cli.conftest import clean_env

COMMANDS = [
    [], ["whoami"], ["release"], ["release", "create"], ["release", "show"], ["release", "finalize"],
    ["release", "cancel"], ["release", "list"], ["preflight"], ["deploy"], ["report"], ["run"], ["approve"],
    ["reject"], ["rollback"], ["status"], ["metrics"], ["freeze"], ["freeze", "list"], ["freeze", "create"],
    ["freeze", "delete"], ["lock"], ["unlock"], ["locks"], ["login"], ["logout"], ["config"], ["config", "set"],
    ["config", "unset"], ["approvals"], ["deployment"], ["deployment", "show"], ["deployment", "cancel"],
    ["compare"], ["timeline"],
]  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "relman")
def test_every_help_shows_an_example(relman_bin: str, command: list[str]):
    shown = subprocess.run([relman_bin, *command, "--help"], capture_output=True, text=True, env=clean_env())

    assert shown.returncode == 0, shown.stderr
    assert "Warning" not in shown.stderr  # e.g. click's about an option spelt twice
    assert "Example" in shown.stdout and "relman " in shown.stdout.split("Example", 1)[1]


def test_help_names_the_exit_codes(relman_bin: str):  # how fast it starts is measured in `make bench`
    shown = subprocess.run([relman_bin, "--help"], capture_output=True, text=True, env=clean_env())
    assert "3 blocked by a gate" in shown.stdout and "_RELMAN_COMPLETE" in shown.stdout


def test_shell_completion_completes_commands(relman_bin: str):
    script = subprocess.run([relman_bin], env=clean_env(_RELMAN_COMPLETE="bash_source"), capture_output=True, text=True)
    words = subprocess.run(
        [relman_bin],
        env=clean_env(_RELMAN_COMPLETE="bash_complete", COMP_WORDS="relman rel", COMP_CWORD="1"),
        capture_output=True,
        text=True,
    )

    assert "complete -o nosort -F _relman_completion relman" in script.stdout
    assert "plain,release" in words.stdout
