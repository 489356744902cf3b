"""The route table: Werkzeug matching, with URL builders compiled only when a URL is built."""

import uuid

import pytest
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map

from shared.web.routes import LazyBuildRule, SlugConverter

RELEASE = uuid.UUID("5b0e8a3e-7f0c-4b4e-9d1a-2f6c1f0b9a11")


def rules() -> Map:
    return Map(
        [
            LazyBuildRule(
                "/releases/<uuid:release_id>/deployments/<slug:environment>", endpoint="deploy", methods=["POST"]
            ),
            LazyBuildRule("/releases/<uuid:release_id>", endpoint="read", methods=["GET"]),
        ],
        strict_slashes=True,
        merge_slashes=False,
        converters={"slug": SlugConverter},
    )


def test_a_rule_matches_as_werkzeug_matches_it():
    adapter = rules().bind("localhost")

    assert adapter.match(f"/releases/{RELEASE}/deployments/prod", method="POST") == (
        "deploy",
        {"release_id": RELEASE, "environment": "prod"},
    )
    with pytest.raises(MethodNotAllowed):
        adapter.match(f"/releases/{RELEASE}", method="DELETE")
    with pytest.raises(NotFound):
        adapter.match(f"/releases/{RELEASE}/deployments/Prod", method="POST")


def test_a_url_built_from_a_rule_is_the_same_as_werkzeug_builds_it():
    adapter = rules().bind("localhost")

    assert adapter.build("deploy", {"release_id": RELEASE, "environment": "prod"}, method="POST") == (
        f"/releases/{RELEASE}/deployments/prod"
    )
    assert adapter.build("read", {"release_id": RELEASE, "fields": "id"}) == f"/releases/{RELEASE}?fields=id"
    assert adapter.build("read", {"release_id": RELEASE}) == f"/releases/{RELEASE}"  # the compiled builder, reused
