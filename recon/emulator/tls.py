"""A throwaway certificate authority and server certificate, made fresh for every emulator run.

The CA's PEM is what clients trust (``REQUESTS_CA_BUNDLE``); nothing here is ever reused, so the
keys live only in a temporary directory that disappears with the emulator.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class TlsFiles:
    """Paths of the PEM files one run needs: the CA (for clients) and the server's cert and key."""

    ca_pem: Path
    cert_pem: Path
    key_pem: Path


@dataclass(frozen=True)
class ClientCertificate:
    """An RSA client certificate for Entra's certificate credential (``client_assertion``)."""

    pem: Path  # private key then certificate, as AZURE_CLIENT_CERTIFICATE_PATH expects
    thumbprint: str  # SHA-1 of the DER certificate, hex upper-case, as msal wants it
    certificate: x509.Certificate


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem_key(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def make_tls_files(directory: Path) -> TlsFiles:
    """Create a CA and a server certificate for 127.0.0.1 and localhost under ``directory``."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder().subject_name(_name("recon emulator CA"))
        .issuer_name(_name("recon emulator CA")).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _DAY).not_valid_after(now + 7 * _DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    san = x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                       x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    cert = (
        x509.CertificateBuilder().subject_name(_name("127.0.0.1")).issuer_name(ca_cert.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - _DAY).not_valid_after(now + 7 * _DAY)
        .add_extension(san, critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    files = TlsFiles(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    files.ca_pem.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key_pem.write_bytes(_pem_key(key))
    return files


def make_client_certificate(directory: Path, client_id: str) -> ClientCertificate:
    """Create a self-signed RSA certificate an app registration could hold (RS256 assertions)."""
    now = dt.datetime.now(dt.UTC)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (
        x509.CertificateBuilder().subject_name(_name(client_id)).issuer_name(_name(client_id))
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - _DAY).not_valid_after(now + 7 * _DAY)
        .sign(key, hashes.SHA256())
    )
    pem = directory / "client.pem"
    pem.write_bytes(_pem_key(key) + cert.public_bytes(serialization.Encoding.PEM))
    return ClientCertificate(pem, thumbprint_hex(cert), cert)


def thumbprint_hex(cert: x509.Certificate) -> str:
    """The certificate's SHA-1 thumbprint as hex, the form the Entra portal and msal show."""
    return hashlib.sha1(cert.public_bytes(serialization.Encoding.DER)).hexdigest().upper()


def x5t(cert: x509.Certificate) -> str:
    """The JWT ``x5t`` header value for ``cert``: base64url of the SHA-1 thumbprint."""
    digest = hashlib.sha1(cert.public_bytes(serialization.Encoding.DER)).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
