"""TLS to Memorystore: the client trusts the instance's CA only and checks the address its certificate names.

Memorystore's certificate names the server by IP in its common name, with no subjectAltName. The
integration tests start a real redis-server with TLS and such a certificate (CN=127.0.0.1, no SAN).
"""

from __future__ import annotations

import datetime
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from shared.platform import redis_tls
from shared.platform.cache import redis_client
from shared.platform.settings import load_settings
from tests.infra.stack import stack

NOW = datetime.datetime.now(datetime.UTC)


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem(obj: x509.Certificate | ec.EllipticCurvePrivateKey) -> bytes:
    if isinstance(obj, x509.Certificate):
        return obj.public_bytes(serialization.Encoding.PEM)
    return obj.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def make_ca(name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - datetime.timedelta(minutes=5))
        .not_valid_after(NOW + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )  # key_cert_sign, crl_sign
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def make_server_cert(ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey], common_name: str):
    """A server certificate like Memorystore's: the address as common name, no subjectAltName."""
    ca_cert, ca_key = ca
    key = _key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - datetime.timedelta(minutes=5))
        .not_valid_after(NOW + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pki")
    instance_ca = make_ca("Memorystore stand-in instance CA")
    other_ca = make_ca("Some other CA")
    files = {
        "ca": instance_ca[0],
        "other-ca": other_ca[0],
    }
    servers = {
        "good": make_server_cert(instance_ca, "127.0.0.1"),
        "foreign": make_server_cert(other_ca, "127.0.0.1"),
        "elsewhere": make_server_cert(instance_ca, "10.20.0.3"),
    }
    paths: dict[str, Path] = {}
    for name, cert in files.items():
        paths[name] = folder / f"{name}.pem"
        paths[name].write_bytes(_pem(cert))
    for name, (cert, key) in servers.items():
        paths[f"{name}-cert"] = folder / f"{name}-cert.pem"
        paths[f"{name}-cert"].write_bytes(_pem(cert))
        paths[f"{name}-key"] = folder / f"{name}-key.pem"
        paths[f"{name}-key"].write_bytes(_pem(key))
    return paths


@pytest.fixture(scope="module")
def tls_redis(pki: dict[str, Path]) -> Iterator[dict[str, int]]:
    """One TLS redis-server per server certificate: {"good": port, "foreign": port, "elsewhere": port}."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    processes, ports = [], {}
    try:
        for name in ("good", "foreign", "elsewhere"):
            port = _free_port()
            command = [
                binary, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
                "--tls-cert-file", str(pki[f"{name}-cert"]), "--tls-key-file", str(pki[f"{name}-key"]),
                "--tls-auth-clients", "no", "--save", "", "--appendonly", "no",
            ]  # fmt: skip
            processes.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
            ports[name] = port
        for name, port in ports.items():
            deadline = time.monotonic() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        pytest.skip(f"redis-server with TLS did not start ({name}); built without TLS?")
                    time.sleep(0.05)
        yield ports
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)


def client_for(port: int, ca: Path | None) -> redis.Redis:
    settings = load_settings(
        environment="test", redis_url=f"rediss://127.0.0.1:{port}/0", redis_ca_cert=str(ca) if ca else None
    )
    client = redis_client(settings)
    assert client is not None
    return client


def test_the_client_verifies_memorystore_with_its_pinned_ca_and_the_address_in_the_common_name(tls_redis, pki):
    client = client_for(tls_redis["good"], pki["ca"])

    assert client.ping() is True
    assert client.set("rm:tls-probe", "1", ex=5) and client.get("rm:tls-probe") == b"1"
    client.close()


def test_python_s_own_hostname_check_refuses_such_a_certificate_which_is_why_the_address_is_checked_here(
    tls_redis, pki
):
    # What redis-py 6+ does by default: the chain is fine, the IP is only in the CN, so it fails.
    stock = redis.Redis(host="127.0.0.1", port=tls_redis["good"], ssl=True, ssl_ca_certs=str(pki["ca"]))

    with pytest.raises(redis.ConnectionError, match=r"(?i)mismatch|not valid for"):
        stock.ping()


def test_the_client_refuses_a_server_signed_by_another_ca(tls_redis, pki):
    client = client_for(tls_redis["foreign"], pki["ca"])

    with pytest.raises(redis.ConnectionError, match=r"(?i)certificate verify failed"):
        client.ping()


def test_the_client_refuses_a_certificate_of_the_right_ca_that_names_another_address(tls_redis, pki):
    client = client_for(tls_redis["elsewhere"], pki["ca"])

    with pytest.raises(redis.ConnectionError, match=r"does not name 127\.0\.0\.1"):
        client.ping()


def test_without_the_pinned_ca_the_client_trusts_nothing_memorystore_presents(tls_redis):
    client = client_for(tls_redis["good"], None)

    with pytest.raises(redis.ConnectionError, match=r"(?i)certificate verify failed"):
        client.ping()


# -- the options, and what Terraform gives the functions ----------------------------------------------


def test_a_rediss_url_to_an_address_requires_a_verified_chain_and_checks_the_address_itself():
    client = client_for(6378, Path("/etc/secrets/redis-ca/server-ca.pem"))
    options = client.connection_pool.connection_kwargs

    assert client.connection_pool.connection_class is redis_tls.AddressCheckedSSLConnection
    assert options["ssl_cert_reqs"] == "required"
    assert options["ssl_ca_certs"] == "/etc/secrets/redis-ca/server-ca.pem"
    assert options["ssl_check_hostname"] is False  # replaced by the address check, not dropped
    assert options["ssl_min_version"] == ssl.TLSVersion.TLSv1_2


def test_a_rediss_url_to_a_host_name_keeps_python_s_hostname_check_and_redis_urls_stay_plain():
    named = redis_client(load_settings(environment="test", redis_url="rediss://cache.internal:6378/0"))
    plain = redis_client(load_settings(environment="test", redis_url="redis://127.0.0.1:6379/0"))
    assert named is not None and plain is not None

    assert named.connection_pool.connection_class is redis.SSLConnection
    assert named.connection_pool.connection_kwargs.get("ssl_check_hostname", True) is True
    assert plain.connection_pool.connection_class is redis.Connection


@pytest.mark.parametrize(
    ("certificate", "names"),
    [
        ({"subject": ((("commonName", "10.0.0.3"),),)}, True),
        ({"subject": ((("commonName", "10.0.0.4"),),)}, False),
        ({"subject": ((("commonName", "10.0.0.3"),),), "subjectAltName": (("IP Address", "10.0.0.9"),)}, False),
        ({"subject": ((("commonName", "x"),),), "subjectAltName": (("IP Address", "10.0.0.3"),)}, True),
        ({"subject": ((("commonName", "10.0.0.3"),),), "subjectAltName": (("DNS", "cache.internal"),)}, False),
        ({"subject": ((("commonName", "redis.example"),),)}, False),
    ],
)
def test_a_certificate_names_an_address_by_its_ip_alt_names_or_else_its_common_name(certificate, names):
    assert redis_tls.names_address(certificate, "10.0.0.3") is names


def test_terraform_gives_the_functions_a_rediss_url_to_the_instance_address_and_its_own_ca():
    env = stack().resource("google_cloudfunctions2_function", "main")["service_config"][0]["environment_variables"]
    redis_instance = stack().resource("google_redis_instance", "main")
    ca_version = stack().resource("google_secret_manager_secret_version", "redis_ca")
    ca_file = stack().locals["secret_files"]["redis-ca"]

    assert redis_instance["transit_encryption_mode"] == "SERVER_AUTHENTICATION"
    assert env["REDIS_URL"] == "rediss://${google_redis_instance.main.host}:${google_redis_instance.main.port}/0"
    assert env["REDIS_CA_CERT"] == '${local.secret_files["redis-ca"].mount_path}/${local.secret_files["redis-ca"].file}'
    assert ca_file == {"mount_path": "/etc/secrets/redis-ca", "file": "server-ca.pem"}
    assert "google_redis_instance.main.server_ca_certs" in ca_version["secret_data"]
