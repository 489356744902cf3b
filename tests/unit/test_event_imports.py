"""Cold start: the events modules load without the Pub/Sub client or the HTTP client, which only
publishing and sending import."""

import subprocess
import sys

from tests.conftest import ROOT


def test_importing_the_events_package_does_not_load_the_pubsub_client():
    code = (
        "import sys, shared.events.rules, shared.events.formats, shared.events.delivery, shared.events.pubsub;"
        "print('google.cloud.pubsub_v1' in sys.modules)"
    )
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "False"


def test_importing_the_dispatcher_does_not_load_the_http_client():
    code = "import sys, shared.events.dispatch; print('urllib3' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "False"
