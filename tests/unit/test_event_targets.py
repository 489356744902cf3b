"""Webhook targets: public addresses only, checked on every address a name resolves to (no network here)."""

import ipaddress
import socket

import pytest

from shared.events.targets import TargetNotAllowed, check_target, ip_literal, is_public


def resolver(*addresses):
    """A stand-in for socket.getaddrinfo answering with these addresses (and recording the calls)."""

    def resolve(host, port, **_kwargs):
        resolve.calls.append(host)
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses
        ]

    resolve.calls = []
    return resolve


def unresolvable(host, port, **_kwargs):
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


PUBLIC = resolver("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946")


def test_an_https_url_of_a_public_host_is_accepted_with_every_address_it_resolves_to():
    target = check_target("https://hooks.example.com/services/T1?x=1", allow_private=False, resolve=PUBLIC)

    assert (target.host, target.port, target.path) == ("hooks.example.com", 443, "/services/T1?x=1")
    assert [str(a) for a in target.addresses] == ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]
    assert target.host_header == "hooks.example.com"


def test_a_port_other_than_the_default_is_kept_in_the_host_header():
    target = check_target("https://hooks.example.com:8443", allow_private=False, resolve=PUBLIC)
    assert (target.port, target.path, target.host_header) == (8443, "/", "hooks.example.com:8443")


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.1",  # short forms getaddrinfo accepts
        "2130706433",
        "0x7f000001",
        "0177.0.0.1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",  # the metadata server
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "224.0.0.1",  # multicast
        "240.0.0.1",  # reserved
        "255.255.255.255",
        "[::1]",
        "[::]",
        "[fc00::1]",
        "[fd12:3456::1]",
        "[fe80::1]",
        "[fec0::1]",  # site-local, deprecated (Python counts it global)
        "[feff:ffff::1]",
        "[3fff::1]",  # documentation, RFC 9637 (Python 3.11 counts it global)
        "[ff02::1]",
        "[::ffff:127.0.0.1]",  # IPv4-mapped forms
        "[::ffff:169.254.169.254]",
        "[::ffff:7f00:1]",
        "[64:ff9b::a00:1]",  # NAT64 to 10.0.0.1
        "[2002:a00:1::]",  # 6to4 of 10.0.0.1
        "[::a00:1]",  # IPv4-compatible, deprecated
        "[::ffff:0:a00:1]",  # IPv4-translated (RFC 2765)
        "[2001:0:4136:e378:8000:63bf:f5ff:fffe]",  # Teredo, client 10.0.0.1
    ],
)
def test_an_ip_literal_that_is_not_public_is_refused_without_resolving(host):
    resolve = resolver("93.184.216.34")
    with pytest.raises(TargetNotAllowed) as refused:
        check_target(f"https://{host}/hook", allow_private=False, resolve=resolve)

    assert refused.value.code == "target_not_allowed"
    assert refused.value.errors[0].field == "url"
    assert resolve.calls == []


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "10.1.2.3", "169.254.169.254", "::1", "fe80::1%eth0", "100.100.1.1", "fec0::1"]
)
def test_a_name_resolving_to_a_private_address_is_refused(address):
    with pytest.raises(TargetNotAllowed, match="resolves to"):
        check_target("https://innocent.example.com/", allow_private=False, resolve=resolver(address))


def test_one_private_address_among_public_ones_is_enough_to_refuse():
    with pytest.raises(TargetNotAllowed, match=r"10\.0\.0\.7"):
        check_target("https://mixed.example.com/", allow_private=False, resolve=resolver("93.184.216.34", "10.0.0.7"))


@pytest.mark.parametrize("host", ["metadata.google.internal", "METADATA.GOOGLE.INTERNAL.", "localhost", "a.localhost"])
def test_internal_names_are_refused_whatever_they_resolve_to(host):
    with pytest.raises(TargetNotAllowed, match="internal name"):
        check_target(f"https://{host}/", allow_private=False, resolve=PUBLIC)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example.com/", "https://"),
        ("ftp://hooks.example.com/", "https://"),
        ("hooks.example.com/path", "https://"),
        ("https://user:pw@hooks.example.com/", "credentials"),
        ("https:///path", "no host"),
        ("https://hooks.example.com:99999/", "not a valid URL"),
        ("https://hooks.example.com/" + "a" * 2048, "longer than"),
    ],
)
def test_malformed_or_plain_http_urls_are_refused(url, reason):
    with pytest.raises(TargetNotAllowed, match=reason):
        check_target(url, allow_private=False, resolve=PUBLIC)


def test_a_name_that_does_not_resolve_is_refused():
    with pytest.raises(TargetNotAllowed, match="does not resolve"):
        check_target("https://nowhere.example.com/", allow_private=False, resolve=unresolvable)


def test_the_development_switch_admits_http_and_private_addresses():
    local = check_target("http://127.0.0.1:8080/hook", allow_private=True, resolve=unresolvable)
    named = check_target("http://receiver.internal:9000/", allow_private=True, resolve=resolver("10.0.0.5"))

    assert (local.scheme, str(local.addresses[0]), local.host_header) == ("http", "127.0.0.1", "127.0.0.1:8080")
    assert str(named.addresses[0]) == "10.0.0.5"


def test_an_ipv6_literal_keeps_its_brackets_in_the_host_header():
    target = check_target("http://[::1]:8080/", allow_private=True)
    assert target.host_header == "[::1]:8080"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("::1", "::1"),
        ("example.com", None),
    ],
)
def test_ip_literals_are_read_in_every_notation_a_resolver_takes(text, expected):
    found = ip_literal(text)
    assert (str(found) if found else None) == expected


def test_public_unicast_addresses_are_public():
    assert is_public(ipaddress.ip_address("8.8.8.8"))
    assert is_public(ipaddress.ip_address("2001:4860:4860::8888"))
    assert not is_public(ipaddress.ip_address("::ffff:10.0.0.1"))
