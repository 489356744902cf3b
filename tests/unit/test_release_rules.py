"""SemVer precedence as a sortable key, and the release lifecycle."""

import random

import pytest

from shared.errors import Conflict
from shared.releases import rules

# Ascending precedence, from the SemVer 2.0.0 specification and the cases users trip over.
ASCENDING = [
    "0.9.9",
    "1.0.0-0.3.7",
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "1.9.0",
    "1.10.0-alpha",
    "1.10.0-rc.1",
    "1.10.0",
    "2.0.0-beta.2",
    "2.0.0-beta.11",
    "2.0.0-x.y",
    "2.0.0-x-y",
    "2.0.0",
    "10.0.0",
    "99999999999999999999.0.0",
]


def test_sort_key_orders_versions_by_semver_precedence():
    shuffled = ASCENDING[:]
    random.Random(7).shuffle(shuffled)

    assert sorted(shuffled, key=rules.version_sort_key) == ASCENDING


def test_sort_key_compares_as_bytes_like_the_database_c_collation():
    keys = [rules.version_sort_key(v).encode() for v in ASCENDING]

    assert keys == sorted(keys)


def test_sort_key_agrees_with_the_semver_library_on_generated_versions():
    import functools

    import semver

    parts = ["0", "1", "2", "10", "11", "alpha", "beta", "a-b", "rc", "x"]
    rng = random.Random(11)
    versions = {
        f"{rng.randint(0, 3)}.{rng.randint(0, 12)}.{rng.randint(0, 2)}"
        + ("-" + ".".join(rng.choice(parts) for _ in range(rng.randint(1, 3))) if rng.random() < 0.7 else "")
        for _ in range(400)
    }
    by_library = sorted(versions, key=functools.cmp_to_key(lambda a, b: semver.Version.parse(a).compare(b)))

    assert sorted(versions, key=rules.version_sort_key) == by_library


def test_build_metadata_takes_no_part_in_precedence():
    assert rules.version_sort_key("1.0.0+build.1") == rules.version_sort_key("1.0.0+build.2")


@pytest.mark.parametrize("text", ["1.0", "v1.0.0", "01.0.0", "1.0.0-", "1.0.0-01", "", "1.0.0.0"])
def test_invalid_versions_are_refused(text):
    with pytest.raises(ValueError):
        rules.parse_version(text)


def test_a_draft_can_be_finalized_and_either_state_cancelled():
    assert rules.transition("draft", "finalize") == "ready"
    assert rules.transition("draft", "cancel") == "cancelled"
    assert rules.transition("ready", "cancel") == "cancelled"


@pytest.mark.parametrize(
    ("status", "action"), [("ready", "finalize"), ("cancelled", "finalize"), ("cancelled", "cancel")]
)
def test_other_transitions_are_conflicts(status, action):
    with pytest.raises(Conflict) as raised:
        rules.transition(status, action)
    assert raised.value.code == "invalid_transition"
