"""Publishing events with the real Pub/Sub client to a stand-in of the Publisher API on 127.0.0.1
(reached the usual way, through PUBSUB_EMULATOR_HOST), which records what it received."""

from __future__ import annotations

import json
import threading
import time
from concurrent import futures

import grpc
import pytest
from google.pubsub_v1.types import PublishRequest, PublishResponse

from shared.errors import Unavailable
from shared.events import formats, pubsub

TOPIC = "projects/acme/topics/release-events"


class StandIn:
    """`google.pubsub.v1.Publisher/Publish`, answering from `self.answer` (None: accept)."""

    def __init__(self) -> None:
        self.requests: list[PublishRequest] = []
        self.answer: grpc.StatusCode | None = None
        self.hang = threading.Event()

    def publish(self, request: PublishRequest, context: grpc.ServicerContext) -> PublishResponse:
        self.requests.append(request)
        if self.hang.is_set():
            time.sleep(3)
        if self.answer is not None:
            context.abort(self.answer, "refused by the stand-in")
        ids = [str(len(self.requests) * 100 + i) for i in range(len(request.messages))]
        return PublishResponse(message_ids=ids)

    @property
    def messages(self):
        return [m for r in self.requests for m in r.messages]


@pytest.fixture
def stand_in(monkeypatch):
    service = StandIn()
    handler = grpc.method_handlers_generic_handler(
        "google.pubsub.v1.Publisher",
        {
            "Publish": grpc.unary_unary_rpc_method_handler(
                service.publish,
                request_deserializer=PublishRequest.deserialize,
                response_serializer=PublishResponse.serialize,
            )
        },
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", f"127.0.0.1:{port}")
    pubsub.publisher.cache_clear()
    yield service
    pubsub.publisher.cache_clear()
    server.stop(grace=None)


def deployment_event(event_type="deployment.failed", environment="production"):
    return formats.new_event(
        type=event_type,
        data={
            "application": "checkout",
            "environment": environment,
            "actor": "ci@example.com",
            "release": {"id": "3f1b", "application": "checkout", "version": "1.4.2"},
            "deployment": {"id": "9c2d", "release_id": "3f1b", "environment": environment},
        },
    )


def test_an_event_is_published_with_its_attributes_ordering_key_and_json(stand_in):
    event = deployment_event()
    message_id = pubsub.publish(event, topic=TOPIC)

    [request] = stand_in.requests
    [message] = request.messages
    assert request.topic == TOPIC
    assert message_id == "100"
    assert dict(message.attributes) == {
        "type": "deployment.failed",
        "application": "checkout",
        "environment": "production",
        "release_id": "3f1b",
        "deployment_id": "9c2d",
    }
    assert message.ordering_key == "checkout/production"
    assert json.loads(message.data) == json.loads(formats.render("standard", event))


def test_empty_attributes_are_left_out(stand_in):
    release = formats.new_event(type="release.created", data={"release": {"id": "3f1b", "application": "checkout"}})
    pubsub.publish(release, topic=TOPIC)

    [message] = stand_in.messages
    assert dict(message.attributes) == {"type": "release.created", "application": "checkout", "release_id": "3f1b"}
    assert message.ordering_key == "checkout/"


def test_events_of_one_application_and_environment_arrive_in_order(stand_in):
    kinds = ["deployment.requested", "deployment.started", "deployment.succeeded"]
    for kind in kinds:
        pubsub.publish(deployment_event(kind), topic=TOPIC)

    assert [m.attributes["type"] for m in stand_in.messages] == kinds


def test_the_topic_comes_from_the_settings_and_without_one_nothing_is_published(stand_in, monkeypatch):
    from shared.platform.settings import get_settings

    get_settings.cache_clear()
    monkeypatch.setenv("PUBSUB_TOPIC", "release-events")
    monkeypatch.setenv("GCP_PROJECT_ID", "acme")
    try:
        pubsub.publish(deployment_event())
        monkeypatch.delenv("PUBSUB_TOPIC")
        get_settings.cache_clear()
        assert pubsub.publish(deployment_event()) is None
    finally:
        get_settings.cache_clear()

    assert [r.topic for r in stand_in.requests] == ["projects/acme/topics/release-events"]


def test_a_refused_publish_is_unavailable_and_the_next_event_of_that_key_still_goes(stand_in):
    stand_in.answer = grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(Unavailable) as refused:
        pubsub.publish(deployment_event("deployment.started"), topic=TOPIC, timeout_s=5)
    assert refused.value.code == "pubsub_unavailable"

    stand_in.answer = None
    pubsub.publish(deployment_event("deployment.succeeded"), topic=TOPIC, timeout_s=5)
    assert stand_in.messages[-1].attributes["type"] == "deployment.succeeded"


def test_a_publish_that_gets_no_answer_gives_up_within_the_bound(stand_in):
    stand_in.hang.set()
    started = time.monotonic()
    with pytest.raises(Unavailable):
        pubsub.publish(deployment_event(), topic=TOPIC, timeout_s=0.5)
    assert time.monotonic() - started < 1.5
