"""TLS / SASL settings and their mapping onto aiokafka and Faust (no broker)."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from faust.auth import SASLCredentials, SSLCredentials
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from pydantic import ValidationError

from streams.app import faust_credentials, faust_options
from streams.devstack import free_port
from streams.kafka_security import (
    KafkaHandshakeError,
    KafkaTlsConfigError,
    KafkaTlsError,
    aiokafka_kwargs,
    bootstrap_addresses,
    check_broker,
    ssl_context,
)
from streams.settings import Settings

SASL = {"kafka_sasl_username": "svc", "kafka_sasl_password": "s3cret"}


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[str, ec.EllipticCurvePrivateKey] | None = None,
    *,
    ca: bool = False,
    san: str | None = None,
) -> x509.Certificate:
    issuer_name, issuer_key = issuer or (subject, key)
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if san is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey, password: bytes | None = None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


class Pki:
    """A CA, a server certificate for localhost and a client certificate, as PEM files."""

    def __init__(self, root: Path, name: str = "test CA") -> None:
        self.ca_key = _key()
        ca = _cert(name, self.ca_key, ca=True)
        self.cafile = root / f"{name.replace(' ', '-')}.pem"
        self.cafile.write_bytes(_pem(ca))
        self.ca_subject = name
        self.server_cert, self.server_key = self.issue(root, "server", san="localhost")
        self.client_cert, self.client_key = self.issue(root, "client")
        client_key_pem = self.client_key.read_bytes()
        key = serialization.load_pem_private_key(client_key_pem, password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        self.locked_key = root / "client-locked.key"
        self.locked_key.write_bytes(_key_pem(key, b"key-pass"))

    def issue(self, root: Path, name: str, san: str | None = None) -> tuple[Path, Path]:
        key = _key()
        cert = _cert(name, key, (self.ca_subject, self.ca_key), san=san)
        (root / f"{name}.pem").write_bytes(_pem(cert))
        (root / f"{name}.key").write_bytes(_key_pem(key))
        return root / f"{name}.pem", root / f"{name}.key"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


# --- settings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"kafka_security_protocol": "SASL_SSL"}, "CAMGUARD_KAFKA_SASL_USERNAME"),
        (
            {"kafka_security_protocol": "SASL_PLAINTEXT", "kafka_sasl_username": "svc"},
            "CAMGUARD_KAFKA_SASL_PASSWORD",
        ),
        ({"kafka_security_protocol": "SSL", **SASL}, "would not send them"),
        ({"kafka_sasl_password": "s3cret"}, "would not send them"),
        ({"kafka_ssl_cafile": "ca.pem"}, "does not use TLS"),
        (
            {"kafka_security_protocol": "SASL_PLAINTEXT", "kafka_ssl_cafile": "ca.pem", **SASL},
            "does not use TLS",
        ),
        (
            {"kafka_security_protocol": "SSL", "kafka_ssl_keyfile": "client.key"},
            "needs kafka_ssl_certfile",
        ),
        ({"kafka_security_protocol": "TLS"}, "kafka_security_protocol"),
        (
            {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_mechanism": "GSSAPI", **SASL},
            "kafka_sasl_mechanism",
        ),
    ],
)
def test_inconsistent_security_settings_are_refused_with_what_to_set(
    values: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ValidationError, match=problem):
        Settings(**values)


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"kafka_security_protocol": "SSL"},
        {"kafka_security_protocol": "SSL", "kafka_ssl_certfile": "combined.pem"},
        {"kafka_security_protocol": "SASL_SSL", "kafka_ssl_cafile": "ca.pem", **SASL},
        {"kafka_security_protocol": "SASL_PLAINTEXT", "kafka_sasl_mechanism": "PLAIN", **SASL},
    ],
)
def test_consistent_security_settings_are_accepted(values: dict[str, Any]) -> None:
    Settings(**values)


def test_security_settings_come_from_the_environment_and_the_password_stays_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CAMGUARD_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("CAMGUARD_KAFKA_SASL_MECHANISM", "SCRAM-SHA-256")
    monkeypatch.setenv("CAMGUARD_KAFKA_SASL_USERNAME", "svc")
    monkeypatch.setenv("CAMGUARD_KAFKA_SASL_PASSWORD", "s3cret")
    monkeypatch.setenv("CAMGUARD_KAFKA_SSL_CHECK_HOSTNAME", "false")
    settings = Settings()
    assert settings.kafka_sasl_mechanism == "SCRAM-SHA-256"
    assert settings.kafka_ssl_check_hostname is False
    assert "s3cret" not in repr(settings)
    assert settings.kafka_sasl_password is not None
    assert settings.kafka_sasl_password.get_secret_value() == "s3cret"


# --- aiokafka and Faust ------------------------------------------------------------------------


def test_plaintext_maps_to_no_tls_and_no_sasl() -> None:
    settings = Settings()
    assert aiokafka_kwargs(settings) == {"security_protocol": "PLAINTEXT"}
    assert ssl_context(settings) is None
    assert faust_credentials(settings) is None
    assert faust_options(settings)["broker_credentials"] is None


def test_sasl_ssl_trusts_only_the_configured_ca(pki: Pki) -> None:
    settings = Settings(kafka_security_protocol="SASL_SSL", kafka_ssl_cafile=pki.cafile, **SASL)
    kwargs = aiokafka_kwargs(settings)
    context = kwargs.pop("ssl_context")
    assert kwargs == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "svc",
        "sasl_plain_password": "s3cret",
    }
    assert isinstance(context, ssl.SSLContext)
    assert [dict(c["subject"][0])["commonName"] for c in context.get_ca_certs()] == ["test CA"]
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname is True


def test_sasl_plaintext_sends_credentials_without_tls() -> None:
    settings = Settings(kafka_security_protocol="SASL_PLAINTEXT", **SASL)
    kwargs = aiokafka_kwargs(settings)
    assert "ssl_context" not in kwargs
    assert kwargs["security_protocol"] == "SASL_PLAINTEXT"
    assert kwargs["sasl_plain_password"] == "s3cret"


def test_check_hostname_can_be_switched_off(pki: Pki) -> None:
    settings = Settings(
        kafka_security_protocol="SSL", kafka_ssl_cafile=pki.cafile, kafka_ssl_check_hostname=False
    )
    context = ssl_context(settings)
    assert context is not None
    assert context.check_hostname is False
    assert context.verify_mode is ssl.CERT_REQUIRED


@pytest.mark.parametrize("locked", [False, True])
def test_a_client_certificate_is_loaded(pki: Pki, locked: bool) -> None:
    settings = Settings(
        kafka_security_protocol="SSL",
        kafka_ssl_cafile=pki.cafile,
        kafka_ssl_certfile=pki.client_cert,
        kafka_ssl_keyfile=pki.locked_key if locked else pki.client_key,
        kafka_ssl_key_password="key-pass" if locked else None,
    )
    assert isinstance(ssl_context(settings), ssl.SSLContext)


@pytest.mark.parametrize(
    ("values", "setting"),
    [
        ({"kafka_ssl_cafile": "/nonexistent/ca.pem"}, "CAMGUARD_KAFKA_SSL_CAFILE"),
        ({"kafka_ssl_certfile": "/nonexistent/client.pem"}, "CAMGUARD_KAFKA_SSL_CERTFILE"),
        ({"kafka_ssl_certfile": "LOCKED", "kafka_ssl_key_password": "wrong"}, "CERTFILE"),
    ],
)
def test_unreadable_tls_files_name_the_setting(
    pki: Pki, values: dict[str, Any], setting: str
) -> None:
    if values.get("kafka_ssl_certfile") == "LOCKED":
        values = {**values, "kafka_ssl_certfile": pki.client_cert}
        values["kafka_ssl_keyfile"] = pki.locked_key
    settings = Settings(kafka_security_protocol="SSL", **values)
    with pytest.raises(KafkaTlsConfigError, match=setting):
        aiokafka_kwargs(settings)


@pytest.mark.parametrize(
    ("values", "credentials", "protocol"),
    [
        ({"kafka_security_protocol": "SSL"}, SSLCredentials, "SSL"),
        ({"kafka_security_protocol": "SASL_SSL", **SASL}, SASLCredentials, "SASL_SSL"),
        (
            {"kafka_security_protocol": "SASL_PLAINTEXT", "kafka_sasl_mechanism": "PLAIN", **SASL},
            SASLCredentials,
            "SASL_PLAINTEXT",
        ),
    ],
)
def test_faust_gets_the_same_security_as_aiokafka_clients(
    pki: Pki, values: dict[str, Any], credentials: type, protocol: str
) -> None:
    if values["kafka_security_protocol"] != "SASL_PLAINTEXT":
        values = {**values, "kafka_ssl_cafile": pki.cafile}
    settings = Settings(**values)
    made = faust_credentials(settings)
    assert isinstance(made, credentials)
    assert isinstance(faust_options(settings)["broker_credentials"], credentials)
    # What Faust hands its own aiokafka clients equals what ours get.
    faust_side = dict(credentials_to_aiokafka_auth(made))
    ours = aiokafka_kwargs(settings)
    assert faust_side.pop("security_protocol") == ours.pop("security_protocol") == protocol
    assert (faust_side.pop("ssl_context") is None) == (ours.pop("ssl_context", None) is None)
    assert {k: v for k, v in faust_side.items() if v is not None} == ours


@pytest.mark.parametrize(
    ("servers", "pairs"),
    [
        ("127.0.0.1:9093", [("127.0.0.1", 9093)]),
        ("a:1,b:2", [("a", 1), ("b", 2)]),
        ("broker", [("broker", 9092)]),
        ("[::1]:9094", [("::1", 9094)]),
        ("a:1, ,b:2,", [("a", 1), ("b", 2)]),
    ],
)
def test_bootstrap_addresses(servers: str, pairs: list[tuple[str, int]]) -> None:
    assert bootstrap_addresses(servers) == pairs


# --- the start-up check against stand-in servers -----------------------------------------------

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler, ssl.SSLContext | None], Awaitable[int]]]:
    servers: list[asyncio.Server] = []

    async def start(handler: Handler, context: ssl.SSLContext | None) -> int:
        server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=context)
        servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


def _server_context(pki: Pki) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    return context


async def test_plaintext_is_not_checked() -> None:
    settings = Settings(broker="kafka://127.0.0.1:1")
    assert (await check_broker(settings)).reachable


async def test_a_broker_that_is_down_is_only_reported(pki: Pki) -> None:
    settings = Settings(
        broker=f"kafka://127.0.0.1:{free_port()}",
        kafka_security_protocol="SSL",
        kafka_ssl_cafile=pki.cafile,
    )
    check = await check_broker(settings, timeout_s=5)
    assert not check.reachable
    assert "127.0.0.1" in check.detail


async def test_an_untrusted_broker_certificate_fails_with_certificate_verify_failed(
    pki: Pki, tmp_path: Path, serve: Callable[[Handler, ssl.SSLContext | None], Awaitable[int]]
) -> None:
    port = await serve(_hang_up, _server_context(pki))
    other = Pki(tmp_path, "other CA")
    settings = Settings(
        broker=f"kafka://localhost:{port}",
        kafka_security_protocol="SASL_SSL",
        kafka_ssl_cafile=other.cafile,
        **SASL,
    )
    with pytest.raises(KafkaTlsError, match="certificate verify failed"):
        await check_broker(settings, timeout_s=5)


async def test_a_certificate_for_another_host_fails_unless_hostname_checks_are_off(
    pki: Pki, serve: Callable[[Handler, ssl.SSLContext | None], Awaitable[int]]
) -> None:
    port = await serve(_hang_up, _server_context(pki))
    values: dict[str, Any] = {
        "broker": f"kafka://127.0.0.1:{port}",  # the certificate names localhost only
        "kafka_security_protocol": "SSL",
        "kafka_ssl_cafile": pki.cafile,
    }
    with pytest.raises(KafkaTlsError, match="certificate verify failed"):
        await check_broker(Settings(**values), timeout_s=5)
    # Trusted and hostname checks off: the handshake passes, then the stand-in hangs up.
    with pytest.raises(KafkaHandshakeError, match="client certificate"):
        await check_broker(Settings(**values, kafka_ssl_check_hostname=False), timeout_s=5)
