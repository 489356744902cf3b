"""`make package`: one reproducible deploy package per function under `dist/`.

Each package is a folder `dist/<function>/` and a zip `dist/<function>-<sha256[:12]>.zip` holding
that function's `main.py` at the root, the `shared` package and the runtime `requirements.txt`,
and the bytecode of every module for the runtime Terraform deploys (python311), so a cold start
imports instead of compiling: `__pycache__/*.cpython-311.pyc`, checked against the source's hash
(not its timestamp), so a source edited after packaging is recompiled rather than served stale.
The same sources give the same bytes (fixed timestamps, sorted entries, fixed permissions,
hash-based bytecode), so the object name changes exactly when the code does and Terraform
redeploys only that function. `dist/manifest.json` maps each function to its object name and hash;
Terraform reads it.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import io
import json
import py_compile
import re
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry
SKIPPED_DIRS = {"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache"}
SKIPPED_SUFFIXES = {".pyc", ".pyo"}
RUNTIME = re.compile(r'runtime\s*=\s*"python(\d)(\d+)"')


class WrongPython(RuntimeError):
    """The interpreter packaging is not the runtime the functions run on."""


def runtime_version(root: Path = ROOT) -> tuple[int, int]:
    """The Python the functions run on, from `runtime = "python3NN"` in terraform/functions.tf."""
    match = RUNTIME.search((root / "terraform" / "functions.tf").read_text())
    if match is None:
        raise WrongPython("terraform/functions.tf names no python runtime")
    return int(match.group(1)), int(match.group(2))


def bytecode(files: dict[str, Path]) -> dict[str, bytes]:
    """Archive path of each module's cached bytecode -> its bytes (hash-checked, reproducible)."""
    out: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory() as folder:
        for arcname, source in files.items():
            if not arcname.endswith(".py"):
                continue
            target = Path(folder) / "out.pyc"
            py_compile.compile(
                str(source),
                cfile=str(target),
                dfile=arcname,  # names the file in tracebacks; the loader puts the real path there
                doraise=True,
                invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH,
            )
            out[importlib.util.cache_from_source(arcname)] = target.read_bytes()
    return out


def functions(root: Path = ROOT) -> list[str]:
    """Every folder under `functions/` with a `main.py`: one Cloud Function each."""
    return sorted(p.parent.name for p in (root / "functions").glob("*/main.py"))


def package_files(name: str, root: Path = ROOT) -> dict[str, Path]:
    """Archive path -> source file for one function's package."""
    files = {"main.py": root / "functions" / name / "main.py", "requirements.txt": root / "requirements.txt"}
    for path in sorted((root / "shared").rglob("*")):
        relative = path.relative_to(root)
        if path.is_dir() or SKIPPED_DIRS.intersection(relative.parts) or path.suffix in SKIPPED_SUFFIXES:
            continue
        files[relative.as_posix()] = path
    return dict(sorted(files.items()))


def zip_bytes(contents: dict[str, bytes]) -> bytes:
    """The zip of `contents` (archive path -> bytes), byte-for-byte the same for the same contents."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for arcname, data in sorted(contents.items()):
            info = zipfile.ZipInfo(arcname, date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o100644 & 0xFFFF) << 16  # a regular file, rw-r--r--
            info.create_system = 3  # Unix, so the permissions above are honoured everywhere
            archive.writestr(info, data, compresslevel=9)
    return buffer.getvalue()


def build(name: str, dist: Path, root: Path = ROOT) -> dict[str, object]:
    """Write `dist/<name>/` and `dist/<name>-<hash>.zip`; return its manifest entry."""
    files = package_files(name, root)
    contents = {arcname: source.read_bytes() for arcname, source in files.items()} | bytecode(files)
    folder = dist / name
    shutil.rmtree(folder, ignore_errors=True)
    for arcname, data in contents.items():
        target = folder / arcname
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    payload = zip_bytes(contents)
    digest = hashlib.sha256(payload).hexdigest()
    for stale in dist.glob(f"{name}-*.zip"):
        stale.unlink()
    obj = f"{name}-{digest[:12]}.zip"
    (dist / obj).write_bytes(payload)
    return {
        "entry_point": name,
        "object": obj,
        "sha256": digest,
        "files": len(files),
        "bytecode": len(contents) - len(files),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python .ci/package.py", description=__doc__.split("\n")[0])
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="output folder (default: dist/)")
    args = parser.parse_args(argv)
    runtime = runtime_version()
    if sys.version_info[:2] != runtime:
        running = ".".join(map(str, sys.version_info[:2]))
        print(
            f"package.py: the functions run on Python {runtime[0]}.{runtime[1]} (terraform/functions.tf) but this is "
            f"Python {running}; its bytecode would be ignored there. Run it with Python {runtime[0]}.{runtime[1]}.",
            file=sys.stderr,
        )
        return 2
    dist: Path = args.dist
    dist.mkdir(parents=True, exist_ok=True)
    manifest = {"functions": {name: build(name, dist) for name in functions()}}
    (dist / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    for name, entry in manifest["functions"].items():
        print(f"{name}: dist/{entry['object']} ({entry['files']} files, {entry['bytecode']} compiled)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
