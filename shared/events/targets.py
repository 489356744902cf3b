"""Where webhooks may go: public addresses only, so a subscription can't reach our metadata server,
our VPC or the instance itself (server-side request forgery).

The check resolves the host and vets every address; delivery then connects to one of those vetted
addresses (never resolving again), so a name that changes its answer between check and connect
(DNS rebinding) still can't reach a private address."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from shared.errors import FieldError, Invalid

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[..., Sequence[tuple[Any, ...]]]  # socket.getaddrinfo's shape

MAX_URL_LENGTH = 2048
# Names refused whatever they resolve to (the metadata server answers on several names).
_REFUSED_NAMES = {"localhost", "metadata", "metadata.google.internal", "metadata.goog"}
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # reaches the IPv4 address in its last 32 bits
# Not globally routed, though Python 3.11's ipaddress counts them global: carrier-grade NAT, IPv6
# site-local (deprecated by RFC 3879, still routed inside some sites) and IPv6 documentation (RFC 9637).
_NOT_GLOBAL = tuple(ipaddress.ip_network(n) for n in ("100.64.0.0/10", "fec0::/10", "3fff::/20"))


class TargetNotAllowed(Invalid):
    """The URL is not one webhooks may be sent to (422 when a subscription is made)."""

    code = "target_not_allowed"

    def __init__(self, reason: str) -> None:
        super().__init__(f"Webhooks can't be sent to this URL: {reason}.", errors=[FieldError("url", reason)])
        self.reason = reason


@dataclass(frozen=True)
class Target:
    """A vetted URL: where to connect (`addresses`) and what to call the host (Host header, TLS SNI)."""

    url: str
    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent in the request line
    addresses: tuple[Address, ...]

    @property
    def host_header(self) -> str:
        name = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return name if self.port == default else f"{name}:{self.port}"


def is_public(address: Address) -> bool:
    """May a webhook go to this address? Only a globally routed unicast one."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None and not is_public(embedded):
            return False
    return not (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or any(address in network for network in _NOT_GLOBAL)
        or not address.is_global
    )


def ip_literal(host: str) -> Address | None:
    """The address a host names literally, in any notation a resolver would take (`127.1`,
    `0x7f000001`, `2130706433`, `::ffff:127.0.0.1`...); None for a name."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])  # a zone id (`fe80::1%eth0`) names no other host
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))  # the legacy forms getaddrinfo also accepts
    except OSError:
        return None


def check_target(url: str, *, allow_private: bool, resolve: Resolver = socket.getaddrinfo) -> Target:
    """Vet a webhook URL: `https://` (`http://` too with the development switch), and every address
    its host resolves to public (any, with the switch). Raises TargetNotAllowed."""
    if len(url) > MAX_URL_LENGTH:
        raise TargetNotAllowed(f"longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise TargetNotAllowed(f"not a valid URL ({error})") from None
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        raise TargetNotAllowed("it must start with https://")
    if parts.username is not None or parts.password is not None:
        raise TargetNotAllowed("it must not carry credentials")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise TargetNotAllowed("it names no host")
    port = port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    literal = ip_literal(host)
    if literal is not None:
        addresses: tuple[Address, ...] = (literal,)
    else:
        if not allow_private and (host in _REFUSED_NAMES or host.endswith((".localhost", ".internal"))):
            raise TargetNotAllowed(f"{host} is an internal name")
        addresses = _resolve(host, port, resolve)
    if not allow_private:
        refused = [a for a in addresses if not is_public(a)]
        if refused:
            raise TargetNotAllowed(f"{host} is not a public address" if literal else f"{host} resolves to {refused[0]}")
    return Target(url=url, scheme=parts.scheme, host=host, port=port, path=path, addresses=addresses)


def _resolve(host: str, port: int, resolve: Resolver) -> tuple[Address, ...]:
    try:
        answers = resolve(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise TargetNotAllowed(f"{host} does not resolve") from None
    addresses: list[Address] = []
    for *_, sockaddr in answers:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise TargetNotAllowed(f"{host} does not resolve")
    return tuple(addresses)
