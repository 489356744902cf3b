"""HTTP plumbing shared by the three functions."""

from shared.web.api import Api
from shared.web.calls import Call, Reply, if_match, listing
from shared.web.headers import client_address

__all__ = ["Api", "Call", "Reply", "client_address", "if_match", "listing"]
