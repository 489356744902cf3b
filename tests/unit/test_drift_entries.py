"""Reading an admin activity log entry (shared/deployments/drift.py `observed`): data from outside,
so any field may be missing or of another type, and the answer is then "not a deploy", never an
error."""

import pytest

from shared.deployments import drift

LABELS = {"release-manager-application": "checkout", "release-manager-environment": "production"}


def v2_entry(service):
    return {
        "protoPayload": {"methodName": "google.cloud.run.v2.Services.UpdateService", "request": {"service": service}}
    }


def test_a_cloud_run_v2_update_names_its_images_and_labels():
    seen = drift.observed(
        v2_entry({"labels": LABELS, "template": {"containers": [{"image": "r.io/a/b@sha256:" + "0" * 64}]}})
    )

    assert seen is not None
    assert (seen.platform, seen.application, seen.environment) == ("cloud_run", "checkout", "production")
    assert seen.images == ("r.io/a/b@sha256:" + "0" * 64,)


@pytest.mark.parametrize(
    "entry",
    [
        None,
        [],
        "text",
        {"protoPayload": "text"},
        {"protoPayload": {"methodName": 7}},
        v2_entry("text"),
        v2_entry({"labels": ["a"], "template": {"containers": [{"image": "x"}]}}),
        v2_entry({"labels": LABELS, "template": {"containers": "x"}}),
        v2_entry({"labels": LABELS, "template": {"containers": [7, None, {"image": ""}]}}),
        v2_entry(
            {"labels": {**LABELS, "release-manager-environment": 3}, "template": {"containers": [{"image": "x"}]}}
        ),
        {"protoPayload": {"methodName": "google.cloud.run.v2.Services.UpdateService", "status": {"code": 7}}},
    ],
)
def test_an_entry_of_another_shape_is_not_a_deploy(entry):
    assert drift.observed(entry) is None


@pytest.mark.parametrize(
    ("image", "digest"),
    [("r.io/a/b@sha256:" + "ab" * 32, "sha256:" + "ab" * 32), ("r.io/a/b:1.0", None), ("r.io/a/b@sha256:short", None)],
)
def test_only_a_full_digest_pins_an_image(image, digest):
    assert drift.digest_of(image) == digest
