"""`make package`: one reproducible deploy package per function under `dist/`.

Each package is a folder `dist/<function>/` and a zip `dist/<function>-<sha256[:12]>.zip` holding
that function's `main.py` at the root, the `shared` package and the runtime `requirements.txt`.
The same sources give the same bytes (fixed timestamps, sorted entries, fixed permissions, no
caches), so the object name changes exactly when the code does and Terraform redeploys only that
function. `dist/manifest.json` maps each function to its object name and hash; Terraform reads it.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import shutil
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry
SKIPPED_DIRS = {"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache"}
SKIPPED_SUFFIXES = {".pyc", ".pyo"}


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


def zip_bytes(files: dict[str, Path]) -> bytes:
    """The zip of `files`, byte-for-byte the same for the same contents."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for arcname, source in sorted(files.items()):
            info = zipfile.ZipInfo(arcname, date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o100644 & 0xFFFF) << 16  # a regular file, rw-r--r--
            info.create_system = 3  # Unix, so the permissions above are honoured everywhere
            archive.writestr(info, source.read_bytes(), compresslevel=9)
    return buffer.getvalue()


def build(name: str, dist: Path, root: Path = ROOT) -> dict[str, object]:
    """Write `dist/<name>/` and `dist/<name>-<hash>.zip`; return its manifest entry."""
    files = package_files(name, root)
    folder = dist / name
    shutil.rmtree(folder, ignore_errors=True)
    for arcname, source in files.items():
        target = folder / arcname
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    payload = zip_bytes(files)
    digest = hashlib.sha256(payload).hexdigest()
    for stale in dist.glob(f"{name}-*.zip"):
        stale.unlink()
    obj = f"{name}-{digest[:12]}.zip"
    (dist / obj).write_bytes(payload)
    return {"entry_point": name, "object": obj, "sha256": digest, "files": len(files)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python .ci/package.py", description=__doc__.split("\n")[0])
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="output folder (default: dist/)")
    args = parser.parse_args(argv)
    dist: Path = args.dist
    dist.mkdir(parents=True, exist_ok=True)
    manifest = {"functions": {name: build(name, dist) for name in functions()}}
    (dist / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    for name, entry in manifest["functions"].items():
        print(f"{name}: dist/{entry['object']} ({entry['files']} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
