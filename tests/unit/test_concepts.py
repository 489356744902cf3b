"""Every resource has one shape (the response model) that its public dict is derived from.
(How the concept packages depend on each other is the import-linter contract: tests/infra/test_layers.py.)"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from shared.models import Out, Shape


class _Resource(Out):
    id: uuid.UUID
    name: str
    children: list[str]
    created_at: datetime


def test_a_shape_picks_the_models_fields_in_order_and_takes_what_the_row_lacks():
    row = SimpleNamespace(id=uuid.uuid4(), name="n", created_at=datetime(2026, 1, 1, tzinfo=UTC), secret="x")
    shown = Shape(_Resource, given=("children",))(row, children=["a"])
    assert list(shown) == ["id", "name", "children", "created_at"]
    assert shown == {"id": row.id, "name": "n", "children": ["a"], "created_at": row.created_at}


def test_a_shape_refuses_fields_its_model_does_not_have():
    with pytest.raises(ValueError, match="no fields"):
        Shape(_Resource, given=("nope",))
