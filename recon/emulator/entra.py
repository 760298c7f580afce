"""An Entra ID (v2.0) authority for one tenant: OpenID discovery and client-credentials tokens.

Enough of the real endpoints for msal's ``ConfidentialClientApplication`` (created with
``instance_discovery=False``, since msal sends instance discovery for unknown hosts to
login.microsoftonline.com): a client secret or a certificate-signed ``client_assertion``.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from recon.emulator.tls import x5t
from recon.emulator.wire import Request, Response, json_response

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class TokenBook:
    """Opaque access tokens, each for one audience, valid until its expiry."""

    def __init__(self) -> None:
        self._tokens: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def issue(self, audience: str, lifetime: float) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = (audience, time.monotonic() + lifetime)
        return token

    def valid(self, token: str | None, audience: str) -> bool:
        """Whether ``token`` was issued for ``audience`` and has not expired."""
        with self._lock:
            entry = self._tokens.get(token or "")
        return entry is not None and entry[0] == audience and time.monotonic() < entry[1]

    def revoke_all(self) -> None:
        """Forget every token (tests use it to force a 401)."""
        with self._lock:
            self._tokens.clear()


@dataclass
class EntraConfig:
    """The tenant, the app registration and what its tokens are for."""

    base_url: str  # the authority host, e.g. https://127.0.0.1:4443
    tenant_id: str
    client_id: str
    client_secret: str
    resource: str  # the Dataverse URL; the only scope granted is f"{resource}/.default"
    certificate: x509.Certificate | None = None


def _aad_error(status: int, error: str, code: int, text: str) -> Response:
    return json_response(status, {"error": error, "error_description": f"AADSTS{code}: {text}",
                                  "error_codes": [code], "timestamp": time.strftime("%F %TZ"),
                                  "trace_id": secrets.token_hex(8),
                                  "correlation_id": secrets.token_hex(8)})


class Entra:
    """Handles ``/<tenant>/v2.0/.well-known/openid-configuration`` and ``/<tenant>/oauth2/...``."""

    def __init__(self, config: EntraConfig, tokens: TokenBook, lifetime: Any) -> None:
        self.config = config
        self.tokens = tokens
        self._lifetime = lifetime  # a callable returning seconds, so faults can change it live

    def handles(self, path: str) -> bool:
        parts = path.strip("/").split("/")
        return len(parts) >= 2 and (parts[1] in ("v2.0", "oauth2", "discovery"))

    def handle(self, request: Request) -> Response:
        tenant, _, rest = request.path.strip("/").partition("/")
        if rest == "discovery/instance":
            return self._instance_discovery(request)
        if tenant != self.config.tenant_id:
            return _aad_error(400, "invalid_tenant", 90002,
                              f"Tenant '{tenant}' not found. Check the tenant id.")
        if rest == "v2.0/.well-known/openid-configuration" and request.method == "GET":
            return json_response(200, self._openid_configuration())
        if rest == "oauth2/v2.0/token" and request.method == "POST":
            return self._token(request)
        return _aad_error(404, "not_found", 90000, f"No endpoint at {request.path}.")

    def _endpoint(self, rest: str) -> str:
        return f"{self.config.base_url}/{self.config.tenant_id}/{rest}"

    def _openid_configuration(self) -> dict[str, Any]:
        return {
            "issuer": self._endpoint("v2.0"),
            "authorization_endpoint": self._endpoint("oauth2/v2.0/authorize"),
            "token_endpoint": self._endpoint("oauth2/v2.0/token"),
            "device_authorization_endpoint": self._endpoint("oauth2/v2.0/devicecode"),
            "end_session_endpoint": self._endpoint("oauth2/v2.0/logout"),
            "jwks_uri": f"{self.config.base_url}/{self.config.tenant_id}/discovery/v2.0/keys",
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "token_endpoint_auth_methods_supported": ["client_secret_post",
                                                      "private_key_jwt", "client_secret_basic"],
            "tenant_region_scope": "EU",
            "cloud_instance_name": "emulator",
        }

    def _instance_discovery(self, request: Request) -> Response:
        host = urllib.parse.urlsplit(self.config.base_url).netloc
        return json_response(200, {
            "tenant_discovery_endpoint":
                self._endpoint("v2.0/.well-known/openid-configuration"),
            "api-version": "1.1",
            "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
        })

    def _token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in urllib.parse.parse_qs(request.body.decode()).items()}
        if form.get("grant_type") != "client_credentials":
            return _aad_error(400, "unsupported_grant_type", 70003,
                              "The app requested an unsupported grant type; "
                              "use client_credentials.")
        if form.get("client_id") != self.config.client_id:
            return _aad_error(400, "unauthorized_client", 700016,
                              f"Application with identifier '{form.get('client_id')}' was not "
                              "found in the directory. Check AZURE_CLIENT_ID.")
        if not self._client_authenticated(form):
            return _aad_error(401, "invalid_client", 7000215,
                              "Invalid client secret provided. Check AZURE_CLIENT_SECRET "
                              "(or the certificate).")
        wanted = self.config.resource.rstrip("/") + "/.default"
        scopes = [s.rstrip("/").replace("//.default", "/.default")
                  for s in form.get("scope", "").split()]
        if wanted not in scopes:
            return _aad_error(400, "invalid_scope", 70011,
                              f"The provided value for the input parameter 'scope' is not valid."
                              f" The scope {form.get('scope', '')} is not valid; use {wanted}.")
        lifetime = int(self._lifetime())
        token = self.tokens.issue("dataverse", lifetime)
        return json_response(200, {"token_type": "Bearer", "expires_in": lifetime,
                                   "ext_expires_in": lifetime, "access_token": token})

    def _client_authenticated(self, form: dict[str, str]) -> bool:
        if "client_secret" in form:
            return secrets.compare_digest(form["client_secret"], self.config.client_secret)
        if form.get("client_assertion_type") == ASSERTION_TYPE and self.config.certificate:
            return self._assertion_valid(form.get("client_assertion", ""))
        return False

    def _assertion_valid(self, assertion: str) -> bool:
        """Check an RS256 client assertion: registered cert, signature, iss/sub, aud, expiry."""
        cert = self.config.certificate
        try:
            head, body, sig = assertion.split(".")
            header = json.loads(_b64url(head))
            claims = json.loads(_b64url(body))
            key = cert.public_key() if cert else None
            if not isinstance(key, rsa.RSAPublicKey) or header.get("alg") != "RS256":
                return False
            if cert is None or str(header.get("x5t", "")).rstrip("=") != x5t(cert):
                return False
            key.verify(_b64url(sig), f"{head}.{body}".encode(), padding.PKCS1v15(),
                       hashes.SHA256())
        except (ValueError, InvalidSignature, json.JSONDecodeError):
            return False
        audience = self._endpoint("oauth2/v2.0/token")
        return (claims.get("iss") == claims.get("sub") == self.config.client_id
                and audience in _as_list(claims.get("aud"))
                and float(claims.get("exp", 0)) > time.time())


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
