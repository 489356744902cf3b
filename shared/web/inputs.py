"""A request's inputs: the body (JSON, or a form where a route takes one) and the query string,
read within their limits and validated into the view's Pydantic models."""

from __future__ import annotations

from typing import Any, TypeVar

import pydantic
import pydantic_core
from flask import Request
from werkzeug import exceptions as http

from shared import errors

MAX_BODY_BYTES = 1024 * 1024
_JSON_TYPES = ("application/json",)
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

ModelT = TypeVar("ModelT", bound=pydantic.BaseModel)


class InvalidInput(Exception):
    """Input that its model refuses; `where` is `body` or `query`."""

    def __init__(self, error: pydantic.ValidationError, where: str) -> None:
        self.error, self.where = error, where


def validated_query(model: type[ModelT], request: Request) -> ModelT:
    """The query string as `model`."""
    return _validated(model, _query_arguments(request), where="query")


def validated_body(model: type[ModelT], request: Request, *, allow_form: bool) -> ModelT:
    """The body as `model`: JSON, or a form when `allow_form`."""
    return _validated(model, _body(request, allow_form=allow_form), where="body")


def _nul_characters(data: Any, path: str = "") -> list[str]:
    """Fields whose text holds U+0000, which PostgreSQL text cannot store."""
    if isinstance(data, str):
        return [path] if "\x00" in data else []
    if isinstance(data, dict):
        return [f for key, value in data.items() for f in _nul_characters(value, f"{path}.{key}".lstrip("."))]
    if isinstance(data, list):
        return [f for i, value in enumerate(data) for f in _nul_characters(value, f"{path}.{i}".lstrip("."))]
    return []


def _validated(model: type[ModelT], data: Any, *, where: str) -> ModelT:
    if fields := _nul_characters(data):
        raise errors.Invalid(
            f"Text may not contain NUL characters ({', '.join(fields)}).",
            errors=[errors.FieldError(field or where, "contains a NUL character") for field in fields],
        )
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as error:
        raise InvalidInput(error, where) from None


def _query_arguments(request: Request) -> dict[str, str]:
    """The query's parameters; an empty one (`?application=`, as forms and scripts send) counts as absent."""
    return {key: value for key in request.args if (value := request.args[key]) != ""}


def _body(request: Request, *, allow_form: bool) -> Any:
    mimetype = request.mimetype
    form = allow_form and mimetype in _FORM_TYPES
    if not form and mimetype not in _JSON_TYPES and not mimetype.endswith("+json"):
        accepted = "application/json" + (" or a form" if allow_form else "")
        raise errors.BadRequest(
            f"Send the body as {accepted}, not {mimetype or 'nothing'}.", code="unsupported_content_type"
        )
    raw = _raw_body(request)
    if form:
        return request.form.to_dict()  # parsed from the body read above
    try:
        # pydantic-core's parser stops at a nesting depth of 200 with a ValueError, where the
        # standard library's would recurse until RecursionError.
        return pydantic_core.from_json(raw)
    except ValueError as error:
        raise errors.BadRequest(f"The body is not valid JSON: {error}.", code="malformed_json") from None


def _raw_body(request: Request) -> bytes:
    """The body, or 413 when it is over MAX_BODY_BYTES, with or without a Content-Length."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise http.RequestEntityTooLarge()
    # A chunked body has no Content-Length; Werkzeug cuts it at the maximum without a word, so
    # allow one byte more and see whether it came.
    request.max_content_length = MAX_BODY_BYTES + 1
    raw = request.get_data(cache=True)
    if len(raw) > MAX_BODY_BYTES:
        raise http.RequestEntityTooLarge()
    return raw
