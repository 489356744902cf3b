"""Which URLs the service fetches from (OIDC issuers, JWK Sets): https only, with no credentials,
query or fragment; plain http to this machine only where settings allow it (development and test)."""

from __future__ import annotations

from urllib.parse import urlsplit

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost"})


def url_refusal(url: str, *, allow_insecure: bool) -> str | None:
    """Why an issuer (or JWK Set) URL is not admitted, or None. `https://` only; with
    `allow_insecure` (OIDC_ALLOW_INSECURE_ISSUERS, development and test) also `http://` to
    127.0.0.1 or localhost."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        has_credentials = parts.username is not None or parts.password is not None
    except ValueError:
        return "is not a URL"
    if not host:
        return "is not an absolute URL"
    if parts.scheme == "http" and allow_insecure:
        if host not in LOOPBACK_HOSTS:
            return "http:// is admitted only for 127.0.0.1 or localhost"
    elif parts.scheme != "https":
        return "must be an https:// URL"
    if has_credentials:
        return "must not carry credentials"
    if parts.query or parts.fragment:
        return "must not carry a query or fragment"
    return None
