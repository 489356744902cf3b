"""`make package`: one reproducible package per function, each serving on its own.

Each zip is unpacked into an empty folder and served by plain `functions-framework` from a fresh
virtual environment holding only the package's requirements.txt; the repository is on neither
`sys.path` nor the working directory, so a missing file in the package shows up as an import error.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = sorted(p.parent.name for p in (ROOT / "functions").glob("*/main.py"))
# The path each function is asked for, and what a working package answers there without a token.
PROBES = {
    "health": ("/", {200}),
    "auth": ("/auth/me", {401}),
    "releases": ("/releases/", {401, 404}),
    "console": ("/console/login", {200}),  # its templates and static files travel in the package
}


def build(dist: Path) -> dict:
    subprocess.run([sys.executable, str(ROOT / ".ci" / "package.py"), "--dist", str(dist)], check=True, cwd=ROOT)
    return json.loads((dist / "manifest.json").read_text())["functions"]


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("dist")
    build(folder)
    return folder


@pytest.fixture(scope="module")
def runtime(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with a package's requirements.txt (the three are identical)."""
    requirements = {(dist / name / "requirements.txt").read_bytes() for name in FUNCTIONS}
    assert len(requirements) == 1, "the packages ship different requirements; build one environment each"
    home = tmp_path_factory.mktemp("venv")
    venv.create(home, with_pip=True)
    pip = [str(home / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run(
        [*pip, "-r", str(dist / FUNCTIONS[0] / "requirements.txt")],
        check=True,
        cwd=home,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        timeout=300,
    )
    return home


def test_every_function_folder_gets_a_package_with_its_main_the_shared_package_and_the_requirements(dist):
    manifest = json.loads((dist / "manifest.json").read_text())["functions"]

    assert sorted(manifest) == FUNCTIONS
    for name, entry in manifest.items():
        assert entry["object"] == f"{name}-{entry['sha256'][:12]}.zip"
        names = zipfile.ZipFile(dist / entry["object"]).namelist()
        assert names == sorted(names)
        assert {"main.py", "requirements.txt", "shared/__init__.py", "shared/platform/settings.py"} <= set(names)
        assert not [n for n in names if n.startswith("tests/") or n.endswith(".pyo")]
        sources = {n for n in names if n.endswith(".py")}
        assert {n for n in names if n.endswith(".pyc")} == {importlib.util.cache_from_source(n) for n in sources}
        folder = sorted(p.relative_to(dist / name).as_posix() for p in (dist / name).rglob("*") if p.is_file())
        assert folder == names
        assert (dist / name / "main.py").read_bytes() == (ROOT / "functions" / name / "main.py").read_bytes()


def test_building_twice_gives_the_same_bytes_so_only_changed_functions_redeploy(tmp_path):
    first, second = build(tmp_path / "one"), build(tmp_path / "two")

    assert first == second
    for entry in first.values():
        assert (tmp_path / "one" / entry["object"]).read_bytes() == (tmp_path / "two" / entry["object"]).read_bytes()


def test_the_bytecode_is_for_the_deployed_runtime_and_checked_against_the_source(dist):
    package = _load_package_script()
    assert package.runtime_version() == (3, 11)  # terraform/functions.tf: runtime = "python311"
    folder = dist / "health"
    for pyc in folder.rglob("*.pyc"):
        header = pyc.read_bytes()[:16]
        assert header[:4] == importlib.util.MAGIC_NUMBER, pyc  # this suite runs on the runtime's Python
        flags = int.from_bytes(header[4:8], "little")
        assert flags == 0b11, f"{pyc}: not hash-based and checked (PEP 552)"


def test_a_source_edited_after_packaging_is_recompiled_not_served_stale(dist, tmp_path):
    folder = tmp_path / "health"
    zipfile.ZipFile(next(dist.glob("health-*.zip"))).extractall(folder)
    names = folder / "shared" / "names.py"
    names.write_text(names.read_text() + "\nEDITED_AFTER_PACKAGING = True\n")
    probe = "import shared.names as n; print(getattr(n, 'EDITED_AFTER_PACKAGING', False))"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONDONTWRITEBYTECODE": "1"}
    answer = subprocess.run(
        [sys.executable, "-c", probe], cwd=folder, env=env, capture_output=True, text=True, check=True
    ).stdout.strip()

    assert answer == "True"


def test_packaging_with_another_python_than_the_runtime_is_refused(monkeypatch, tmp_path, capsys):
    package = _load_package_script()
    monkeypatch.setattr(package, "runtime_version", lambda root=package.ROOT: (3, 99))

    assert package.main(["--dist", str(tmp_path)]) == 2
    assert "Python 3.99" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def _load_package_script():
    spec = importlib.util.spec_from_file_location("package_script", ROOT / ".ci" / "package.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read()


def _serve(runtime: Path, folder: Path, name: str, port: int, services: dict[str, str]) -> subprocess.Popen:
    env = {
        "PATH": f"{runtime / 'bin'}:/usr/bin:/bin",
        "HOME": str(folder),
        "ENVIRONMENT": "test",
        "DATABASE_URL": services["database_url"],
        "REDIS_URL": services["redis_url"],
        "CACHE_PREFIX": os.environ["CACHE_PREFIX"],
        "LOG_LEVEL": "WARNING",
    }
    command = [str(runtime / "bin" / "functions-framework"), "--target", name, "--source", "main.py"]
    return subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port)],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


@pytest.mark.timeout(400)
def test_each_package_installs_into_a_fresh_environment_and_answers_with_nothing_from_the_repository(
    dist, runtime, services, tmp_path
):
    manifest = json.loads((dist / "manifest.json").read_text())["functions"]
    servers = {}
    for name in FUNCTIONS:
        folder = tmp_path / name
        zipfile.ZipFile(dist / manifest[name]["object"]).extractall(folder)
        port = _free_port()
        servers[name] = (port, _serve(runtime, folder, name, port, services))
    try:
        answers = {}
        for name, (port, process) in servers.items():
            path, _ = PROBES[name]
            deadline = time.monotonic() + 30
            while True:
                try:
                    answers[name] = _get(f"http://127.0.0.1:{port}{path}")
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        process.kill()
                        output = process.communicate()[0].decode(errors="replace")
                        pytest.fail(f"{name} did not serve: {output[-2000:]}")
                    time.sleep(0.2)
    finally:
        for _, process in servers.values():
            process.terminate()
            process.wait(timeout=10)

    for name, (status, _, body) in answers.items():
        assert status in PROBES[name][1], (name, status, body[:500])
    assert json.loads(answers["health"][2])["checks"]["database"]["status"] == "ok"
    assert answers["auth"][1].startswith("application/problem+json")
    assert answers["releases"][1].startswith("application/problem+json")
    assert answers["console"][1].startswith("text/html") and b"<h1>Sign in</h1>" in answers["console"][2]
