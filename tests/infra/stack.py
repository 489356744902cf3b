"""The Terraform configuration under terraform/, parsed with python-hcl2 (no terraform binary needed)."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
from hcl2 import SerializationOptions

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "terraform"
OPTIONS = SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)


def load(path: Path) -> dict[str, Any]:
    with path.open() as handle:
        return hcl2.load(handle, serialization_options=OPTIONS)


@dataclass
class Stack:
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    resources: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    ephemerals: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    code: str = ""  # every .tf file without its comments

    def resource(self, type_: str, name: str) -> dict[str, Any]:
        return self.resources[(type_, name)]

    def of_type(self, type_: str) -> dict[str, dict[str, Any]]:
        return {name: body for (t, name), body in self.resources.items() if t == type_}

    def default(self, variable: str) -> Any:
        return self.variables[variable].get("default")


@functools.cache
def stack() -> Stack:
    parsed = Stack()
    for path in sorted(TERRAFORM.glob("*.tf")):
        data = load(path)
        parsed.files[path.name] = data
        parsed.code += re.sub(r"(?m)^\s*#.*$", "", path.read_text()) + "\n"
        for block in data.get("resource", []):
            for type_, named in block.items():
                for name, body in named.items():
                    parsed.resources[(type_, name)] = body
        for block in data.get("ephemeral", []):
            for type_, named in block.items():
                for name, body in named.items():
                    parsed.ephemerals[(type_, name)] = body
        for block in data.get("variable", []):
            parsed.variables.update(block)
        for block in data.get("output", []):
            parsed.outputs.update(block)
        for block in data.get("locals", []):
            parsed.locals.update(block)
    return parsed


def object_keys(expression: str | dict[str, object]) -> set[str]:
    """The keys of a map: parsed already, or object literals in an expression (`${merge(a, {KEY = ...})}`)."""
    if isinstance(expression, dict):
        return set(expression)
    return set(re.findall(r"[{,]\s*([A-Z][A-Z0-9_]*)\s*=", expression))
