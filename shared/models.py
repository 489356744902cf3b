"""Base classes of the request models."""

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """A request body or query: unknown fields are refused.

    Validators are built on a model's first use rather than at import: an instance serves only a
    few routes before it is recycled, and the import is on every cold start.
    """

    model_config = ConfigDict(extra="forbid", defer_build=True)
