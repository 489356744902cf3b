"""The events settings: the private-targets switch stays in development and test; the Pub/Sub topic's name."""

import pytest

from shared.platform.settings import ConfigError, load_settings

PROD = {"environment": "production", "database_url": "postgresql://u@db/x"}


def test_private_webhook_targets_are_off_by_default_and_allowed_in_development_and_test():
    assert not load_settings(environment="development").webhook_allow_private_targets
    assert load_settings(environment="test", webhook_allow_private_targets=True).webhook_allow_private_targets


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_private_webhook_targets_are_refused_in_staging_and_production(environment):
    with pytest.raises(ConfigError) as refused:
        load_settings(**PROD | {"environment": environment}, webhook_allow_private_targets=True)
    assert str(refused.value) == "invalid setting WEBHOOK_ALLOW_PRIVATE_TARGETS: allowed in development and test only"


def test_no_topic_means_no_publishing():
    assert load_settings(environment="development", pubsub_topic=None).pubsub_topic_path is None


def test_a_full_topic_name_is_used_as_it_is_and_a_short_one_lives_in_the_project():
    full = load_settings(environment="development", pubsub_topic="projects/acme/topics/release-events")
    short = load_settings(environment="development", pubsub_topic="release-events", gcp_project_id="acme-prod")

    assert full.pubsub_topic_path == "projects/acme/topics/release-events"
    assert short.pubsub_topic_path == "projects/acme-prod/topics/release-events"


def test_a_short_topic_without_a_project_is_refused(monkeypatch):
    monkeypatch.delenv("GCP_PROJECT_ID", raising=False)
    with pytest.raises(ConfigError, match=r"^invalid setting PUBSUB_TOPIC: a short topic name needs GCP_PROJECT_ID"):
        load_settings(environment="development", pubsub_topic="release-events")


@pytest.mark.parametrize("topic", ["projects/acme/topics/", "projects//topics/events", "9events", "a b c"])
def test_a_malformed_topic_is_refused(topic):
    with pytest.raises(ConfigError, match=r"^invalid setting PUBSUB_TOPIC"):
        load_settings(environment="development", pubsub_topic=topic, gcp_project_id="acme")
