"""Kafka TLS and SASL for every client camguard builds, from one :class:`Settings` (Faust's
``broker_credentials`` are built from these in streams/app.py: this module loads no Faust, so
the gateway and the CLI do not either).

::

    ssl_context(settings)         the client SSLContext (None when the protocol has no TLS)
    aiokafka_kwargs(settings)     keyword arguments for any aiokafka producer/consumer/admin
    await check_broker(settings)  one connection at start-up that names a wrong password or an
                                  untrusted CA (aiokafka only logs those and retries forever)

Errors::

    CamguardError
    └── KafkaSecurityError
        ├── KafkaTlsConfigError       a CA, certificate or key file cannot be loaded
        ├── KafkaAuthenticationError  the broker refused the SASL credentials or mechanism
        ├── KafkaTlsError             the TLS handshake failed (certificate verify failed ...)
        └── KafkaHandshakeError       the broker hung up right after the connection opened
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from aiokafka.conn import AIOKafkaConnection
from aiokafka.errors import (
    BrokerResponseError,
    KafkaConnectionError,
    KafkaError,
    UnsupportedSaslMechanismError,
)
from aiokafka.protocol.metadata import MetadataRequest

from streams.exceptions import CamguardError
from streams.settings import Settings

TLS_PROTOCOLS = frozenset({"SSL", "SASL_SSL"})
SASL_PROTOCOLS = frozenset({"SASL_PLAINTEXT", "SASL_SSL"})
T = TypeVar("T")


class KafkaSecurityError(CamguardError):
    """The broker connection's security settings do not work; retrying will not help.

    Fix the CAMGUARD_KAFKA_* setting the message names, then start again.
    """

    reason = "kafka_security"


class KafkaTlsConfigError(KafkaSecurityError):
    """A TLS file cannot be loaded: check the path and the format (PEM) of the named setting."""

    reason = "kafka_tls_config"


class KafkaAuthenticationError(KafkaSecurityError):
    """The broker refused the SASL login (authentication failed).

    Check CAMGUARD_KAFKA_SASL_USERNAME / CAMGUARD_KAFKA_SASL_PASSWORD and that
    CAMGUARD_KAFKA_SASL_MECHANISM is one the broker enables (SCRAM users exist per mechanism).
    """

    reason = "kafka_auth_failed"


class KafkaTlsError(KafkaSecurityError):
    """The TLS handshake with the broker failed (for example: certificate verify failed).

    Point CAMGUARD_KAFKA_SSL_CAFILE at the CA that signed the broker's certificate; when the
    certificate does not name the host you connect to, fix the broker address (or, for a test
    broker only, CAMGUARD_KAFKA_SSL_CHECK_HOSTNAME=false).
    """

    reason = "kafka_tls_failed"


class KafkaHandshakeError(KafkaSecurityError):
    """The broker closed the connection before answering.

    The port speaks another security protocol than CAMGUARD_KAFKA_SECURITY_PROTOCOL, or it
    requires a client certificate (CAMGUARD_KAFKA_SSL_CERTFILE / CAMGUARD_KAFKA_SSL_KEYFILE).
    """

    reason = "kafka_handshake"


def _load(what: str, setting: str, load: Callable[..., T], *args: Any) -> T:
    try:
        return load(*args)
    except (OSError, ssl.SSLError) as exc:
        raise KafkaTlsConfigError(
            f"cannot load the Kafka {what} from {setting}={args[0]}: {exc}"
        ) from exc


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context for ``settings`` (None for PLAINTEXT and SASL_PLAINTEXT).

    Trusts ``kafka_ssl_cafile`` alone when it is set (a broker certificate from any other CA
    is refused), else the system's CAs; presents the client certificate when
    ``kafka_ssl_certfile`` is set.
    """
    if settings.kafka_security_protocol not in TLS_PROTOCOLS:
        return None
    cafile = settings.kafka_ssl_cafile
    context = _load(
        "CA file",
        "CAMGUARD_KAFKA_SSL_CAFILE",
        lambda path: ssl.create_default_context(cafile=path),
        str(cafile) if cafile is not None else None,
    )
    if settings.kafka_ssl_certfile is not None:
        keyfile = settings.kafka_ssl_keyfile
        password = settings.kafka_ssl_key_password
        _load(
            "client certificate",
            "CAMGUARD_KAFKA_SSL_CERTFILE",
            context.load_cert_chain,
            str(settings.kafka_ssl_certfile),
            str(keyfile) if keyfile is not None else None,
            password.get_secret_value() if password is not None else None,
        )
    context.check_hostname = settings.kafka_ssl_check_hostname
    return context


def aiokafka_kwargs(settings: Settings) -> dict[str, Any]:
    """Security keyword arguments for ``AIOKafkaProducer``, ``AIOKafkaConsumer`` or the admin."""
    protocol = settings.kafka_security_protocol
    kwargs: dict[str, Any] = {"security_protocol": protocol}
    context = ssl_context(settings)
    if context is not None:
        kwargs["ssl_context"] = context
    if protocol in SASL_PROTOCOLS:
        password = settings.kafka_sasl_password
        kwargs["sasl_mechanism"] = settings.kafka_sasl_mechanism
        kwargs["sasl_plain_username"] = settings.kafka_sasl_username
        kwargs["sasl_plain_password"] = password.get_secret_value() if password else None
    return kwargs


@dataclass(frozen=True)
class BrokerCheck:
    """What :func:`check_broker` found: ``reachable`` False leaves retrying to the clients."""

    reachable: bool
    detail: str


def bootstrap_addresses(bootstrap_servers: str) -> list[tuple[str, int]]:
    """``host:port,host:port`` as pairs (port 9092 when missing; IPv6 in brackets)."""
    pairs = []
    for part in filter(None, (p.strip() for p in bootstrap_servers.split(","))):
        host, _, port = part.rpartition(":")
        if not host or not port.isdigit():
            host, port = part, "9092"
        pairs.append((host.strip("[]"), int(port)))
    return pairs


def _classify(exc: BaseException, address: str, settings: Settings) -> KafkaSecurityError | None:
    """The security error ``exc`` stands for, or None when the broker was merely unreachable."""
    protocol = settings.kafka_security_protocol
    if isinstance(exc, ssl.SSLCertVerificationError):
        return KafkaTlsError(
            f"TLS to Kafka at {address}: certificate verify failed ({exc.verify_message}); "
            "set CAMGUARD_KAFKA_SSL_CAFILE to the CA that signed the broker's certificate"
        )
    if isinstance(exc, ssl.SSLError):
        return KafkaTlsError(f"TLS to Kafka at {address} failed: {exc}")
    if isinstance(exc, UnsupportedSaslMechanismError):
        return KafkaAuthenticationError(f"SASL with Kafka at {address}: {exc}")
    if isinstance(exc, BrokerResponseError) and protocol in SASL_PROTOCOLS:
        return KafkaAuthenticationError(
            f"SASL {settings.kafka_sasl_mechanism} authentication failed for user "
            f"{settings.kafka_sasl_username!r} at {address}: {exc}; check "
            "CAMGUARD_KAFKA_SASL_USERNAME, CAMGUARD_KAFKA_SASL_PASSWORD and "
            "CAMGUARD_KAFKA_SASL_MECHANISM"
        )
    if isinstance(exc, KafkaConnectionError) and "closed" in str(exc):
        return KafkaHandshakeError(
            f"Kafka at {address} closed the connection before answering: it does not speak "
            f"{protocol} on that port, or it requires a client certificate "
            "(CAMGUARD_KAFKA_SSL_CERTFILE, CAMGUARD_KAFKA_SSL_KEYFILE)"
        )
    return None


async def _probe(host: str, port: int, kwargs: dict[str, Any], timeout_s: float) -> None:
    conn = AIOKafkaConnection(
        host, port, client_id="camguard-check", request_timeout_ms=int(timeout_s * 1000), **kwargs
    )
    try:
        async with asyncio.timeout(timeout_s):
            await conn.connect()  # TLS handshake, ApiVersions, SASL login
            await conn.send(MetadataRequest([]))
    finally:
        conn.close()


async def check_broker(settings: Settings, timeout_s: float | None = None) -> BrokerCheck:
    """Connect once with the security settings; raise what no retry would fix.

    Raises :class:`KafkaSecurityError` (authentication failed, certificate verify failed, ...)
    from the first bootstrap address that answers; a broker that is down or slow is reported
    as ``reachable=False`` (the clients retry it). PLAINTEXT has nothing to check.
    """
    if settings.kafka_security_protocol == "PLAINTEXT":
        return BrokerCheck(True, "PLAINTEXT: not checked")
    kwargs = aiokafka_kwargs(settings)  # a bad CA/cert file raises here
    budget = settings.kafka_connect_check_s if timeout_s is None else timeout_s
    loop = asyncio.get_running_loop()
    deadline = loop.time() + budget
    problems = []
    for host, port in bootstrap_addresses(settings.bootstrap_servers):
        address = f"{host}:{port}"
        try:
            await _probe(host, port, kwargs, max(deadline - loop.time(), 0.1))
        except (OSError, TimeoutError, KafkaError) as exc:
            error = _classify(exc, address, settings)
            if error is not None:
                raise error from exc
            problems.append(f"{address}: {exc!r}")
            continue
        return BrokerCheck(True, f"{settings.kafka_security_protocol} to {address} works")
    return BrokerCheck(False, "; ".join(problems) or "no bootstrap address")
