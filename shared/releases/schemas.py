"""Request bodies and queries of the release endpoints (unknown fields are refused), and what they answer."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, ConfigDict, Field, model_validator
from pydantic.json_schema import SkipJsonSchema

from shared.models import LenientTimestamp, Out, Strict, Timestamp, WebLink
from shared.names import SLUG_PATTERN
from shared.pagination import PageQuery
from shared.releases import rules

MAX_NOTES_BYTES = 64 * 1024


class Source(Strict):
    repository: str = Field(min_length=1, max_length=500)
    commit_sha: str = Field(pattern=r"^[0-9a-f]{7,64}$", description="Full or short commit hash, lowercase hex.")
    branch: str | None = Field(default=None, max_length=255)
    committed_at: Timestamp | None = None


class Artifact(Strict):
    name: str = Field(min_length=1, max_length=200)
    uri: str = Field(min_length=1, max_length=2000)
    digest: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")


def _notes_size(value: str) -> str:
    if len(value.encode()) > MAX_NOTES_BYTES:
        raise ValueError("notes are limited to 64 KiB")
    return value


def _semver(value: str) -> str:
    rules.parse_version(value)
    return value


# At most 64 KiB of UTF-8; the document's maxLength (characters) is the bound that follows from it.
Notes = Annotated[str, Field(json_schema_extra={"maxLength": MAX_NOTES_BYTES}), AfterValidator(_notes_size)]
# The pattern is published in the document; the SemVer library does the checking (with clearer messages).
Version = Annotated[
    str, Field(max_length=256, json_schema_extra={"pattern": rules.SEMVER_PATTERN}), AfterValidator(_semver)
]


class ReleaseIn(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "application": "checkout",
                    "version": "1.4.0",
                    "title": "Faster payment page",
                    "notes": "Cuts payment page load time by **40%**.",
                    "source": {"repository": "github.com/acme/checkout", "commit_sha": "9fceb02", "branch": "main"},
                    "artifacts": [
                        {
                            "name": "image",
                            "uri": "europe-docker.pkg.dev/acme/apps/checkout:1.4.0",
                            "digest": "sha256:" + "0" * 64,
                        }
                    ],
                }
            ]
        },
    )

    application: str = Field(pattern=SLUG_PATTERN, description="Lowercase slug.")
    version: Version = Field(description="SemVer 2.0.0, unique per application.")
    title: str = Field(min_length=1, max_length=200)
    notes: Notes = Field(default="", description="Markdown, at most 64 KiB.")
    source: Source | None = None
    artifacts: list[Artifact] = Field(default_factory=list, max_length=100)
    status: rules.Initial = "draft"
    kind: rules.Kind = Field(default="change", description="fix: it fixes an incident; a freeze may let fixes through.")
    incident_url: WebLink | None = Field(default=None, description="The incident it fixes (required for a fix).")

    @model_validator(mode="after")
    def _a_fix_names_its_incident(self) -> Self:
        if self.kind == "fix" and self.incident_url is None:
            raise ValueError("incident_url: required for a release of kind fix")
        return self


class ReleasePatch(Strict):
    """The editable content of a draft; application and version identify it and stay."""

    # `source` may be cleared with null; the others may be left out, but never null.
    title: Annotated[str, Field(min_length=1, max_length=200)] | SkipJsonSchema[None] = None
    notes: Notes | SkipJsonSchema[None] = None
    source: Source | None = None
    artifacts: Annotated[list[Artifact], Field(max_length=100)] | SkipJsonSchema[None] = None

    @model_validator(mode="after")
    def _no_nulls(self) -> Self:
        for name in ("title", "notes", "artifacts"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name}: may not be null")
        return self


class CancelIn(Strict):
    reason: str = Field(min_length=1, max_length=1000)


class ReleaseQuery(PageQuery):
    application: str | None = Field(default=None, pattern=SLUG_PATTERN)
    status: rules.Status | None = None
    environment: str | None = Field(default=None, min_length=1, max_length=63)
    q: str | None = Field(default=None, min_length=1, max_length=200)
    sort: Literal["-created_at", "-version"] = Field(
        default="-created_at",
        description="`-created_at`: newest first; `-version`: highest SemVer first.",
        json_schema_extra={"x-enum-varnames": ["CREATED_AT_DESC", "VERSION_DESC"]},
    )


class AuditQuery(PageQuery):
    entity_type: str | None = Field(default=None, max_length=50)
    actor: str | None = Field(default=None, max_length=200)
    since: LenientTimestamp | None = None


# -- responses ------------------------------------------------------------------------------------


class SourceOut(Out):
    repository: str
    commit_sha: str
    branch: str | None = None
    committed_at: datetime | None = None


class ArtifactOut(Out):
    name: str
    uri: str
    digest: str


class ReleaseOut(Out):
    id: uuid.UUID
    application: str
    version: str
    title: str
    notes: str
    source: SourceOut | None
    artifacts: list[ArtifactOut]
    status: rules.Status
    cancel_reason: str | None
    kind: rules.Kind
    incident_url: str | None
    created_by: uuid.UUID
    created_by_name: str | None = Field(description="Its creator's display name, else email (null: not a person).")
    created_at: datetime
    updated_at: datetime
