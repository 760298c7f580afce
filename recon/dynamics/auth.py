"""Entra tokens for Dataverse: msal's confidential client with a secret or a certificate.

One msal app per token source (msal caches the token until 5 minutes before expiry). The
source exposes ``token()`` and ``invalidate()``; the client calls ``invalidate()`` on a 401 and
asks again, once (reference/dataverse.md §3, §6).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Protocol

import msal
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from recon.errors import AuthError, ConfigError
from recon.settings import DataverseSettings


class TokenSource(Protocol):
    """Hands out bearer tokens; ``invalidate`` forgets a token the service refused."""

    def token(self) -> str: ...

    def invalidate(self) -> None: ...


def certificate_credential(path: str, password: str | None = None) -> dict[str, Any]:
    """msal's client_credential for a PFX, or a PEM holding the private key and certificate."""
    if Path(path).suffix.lower() in (".pfx", ".p12"):
        return {"private_key_pfx_path": path, "passphrase": password}
    try:
        pem = Path(path).read_bytes()
        cert = x509.load_pem_x509_certificate(pem)
        serialization.load_pem_private_key(pem, password.encode() if password else None)
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(f"AZURE_CLIENT_CERTIFICATE_PATH={path}: cannot read a private key and "
                          f"certificate from it ({exc}). Point it at a PEM holding both (or a "
                          ".pfx) and set AZURE_CLIENT_CERTIFICATE_PASSWORD if it is "
                          "encrypted.") from exc
    return {"private_key": pem.decode("ascii"),
            "thumbprint": cert.fingerprint(hashes.SHA1()).hex().upper(),  # noqa: S303 (x5t)
            "public_certificate": cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
            "passphrase": password}


class MsalTokenSource:
    """Client-credentials tokens from msal for ``<org>/.default``."""

    def __init__(self, settings: DataverseSettings, session: requests.Session) -> None:
        if settings.client_secret is not None:
            credential: Any = settings.client_secret.reveal()
        elif settings.certificate_path:
            password = settings.certificate_password
            credential = certificate_credential(settings.certificate_path,
                                                password.reveal() if password else None)
        else:
            raise ConfigError("No client secret or certificate for Dataverse. Set "
                              "AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH.")
        self._scopes = [settings.scope]
        self._authority = settings.authority
        self._lock = threading.Lock()
        try:
            # instance_discovery=False: no call to login.microsoftonline.com for a custom host.
            self._app = msal.ConfidentialClientApplication(
                settings.client_id, client_credential=credential, authority=settings.authority,
                http_client=session, instance_discovery=False)
        except (ValueError, requests.RequestException) as exc:
            raise AuthError(f"Cannot reach the Entra authority {settings.authority}: {exc}. "
                            "Check AZURE_AUTHORITY_HOST, AZURE_TENANT_ID and "
                            "REQUESTS_CA_BUNDLE.") from exc

    def token(self) -> str:
        """A bearer token, from msal's cache while it has more than 5 minutes left."""
        with self._lock:
            try:
                result = self._app.acquire_token_for_client(scopes=self._scopes)
            except requests.RequestException as exc:
                raise AuthError(f"Token request to {self._authority} failed: {exc}. "
                                "Check the network and AZURE_AUTHORITY_HOST.") from exc
        if "access_token" not in result:
            code = result.get("error")
            reason = (result.get("error_description") or "").splitlines()[:1] or [""]
            raise AuthError(f"Entra refused a token for {self._scopes[0]}: {code}: "
                            f"{reason[0]} Check "
                            "AZURE_CLIENT_ID and its secret or certificate, and that the app "
                            "is registered in AZURE_TENANT_ID.", status=400, code=code)
        return str(result["access_token"])

    def invalidate(self) -> None:
        """Drop cached tokens so the next ``token()`` asks Entra again."""
        with self._lock:
            self._app.remove_tokens_for_client()
