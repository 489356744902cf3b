"""HTTP plumbing shared by the three functions."""

from shared.web.api import Api, Call, Reply, client_address, if_match, listing

__all__ = ["Api", "Call", "Reply", "client_address", "if_match", "listing"]
