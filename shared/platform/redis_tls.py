"""TLS to Memorystore for Redis: trust only the instance's own CA, and check the server's address.

Memorystore's server certificate is signed by a CA made for that one instance (its PEM is
`google_redis_instance.server_ca_certs`, mounted as REDIS_CA_CERT), and it names the server by its
IP address in the subject's common name only, with no subjectAltName. Clients connect by that IP.
Python's hostname check (redis-py 6+ turns it on by default) compares an IP address with the
certificate's IP subjectAltNames alone, so it refuses every Memorystore connection
(redis/redis-py#3629) and the cache would silently stay off. So for an IP address the check is done
here instead, after the handshake has verified the chain against the pinned CA: the certificate
must name that address, as an IP subjectAltName or, when it has none, as its common name.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from typing import Any

import redis


def is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def names_address(certificate: dict[str, Any], host: str) -> bool:
    """Whether a peer certificate (`SSLSocket.getpeercert()`) names the IP address `host`."""
    address = ipaddress.ip_address(host)
    alt_names = certificate.get("subjectAltName", ())
    ips = [value for kind, value in alt_names if kind == "IP Address"]
    if ips:
        return any(ipaddress.ip_address(value.strip()) == address for value in ips)
    if any(kind == "DNS" for kind, _ in alt_names):
        return False  # a certificate for host names does not vouch for an address
    common_names = [value for rdn in certificate.get("subject", ()) for key, value in rdn if key == "commonName"]
    for name in common_names:
        try:
            if ipaddress.ip_address(name) == address:
                return True
        except ValueError:
            continue
    return False


class AddressCheckedSSLConnection(redis.SSLConnection):
    """An SSLConnection to an IP address that also checks the certificate names that address.

    Use it with `ssl_cert_reqs="required"`, a pinned `ssl_ca_certs` and `ssl_check_hostname=False`
    (the chain is verified by the handshake; the name, which Python cannot match here, below).
    """

    def _connect(self) -> socket.socket:
        sock: socket.socket = super()._connect()  # type: ignore[no-untyped-call] # redis has no annotations here
        certificate = sock.getpeercert() if isinstance(sock, ssl.SSLSocket) else None
        if not certificate or not names_address(certificate, str(self.host)):
            sock.close()
            raise redis.ConnectionError(f"the TLS certificate of {self.host}:{self.port} does not name {self.host}")
        return sock
