"""Connection settings read from the environment, with the azure-identity variable names.

Secrets are wrapped in ``Secret``: it prints as ``***`` in repr, str, f-strings and logs, and
only ``reveal()`` hands the value to the one library call that needs it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Self

from recon.errors import ConfigError

DEFAULT_AUTHORITY = "https://login.microsoftonline.com"
DEFAULT_STORE = "default"

#: What each variable holds, for error messages and the README.
VARIABLES = {
    "DATAVERSE_URL": "the Dataverse environment URL, e.g. https://contoso.crm.dynamics.com",
    "AZURE_TENANT_ID": "the Entra tenant (directory) id of the app registration",
    "AZURE_CLIENT_ID": "the application (client) id of the Entra app registration",
    "AZURE_CLIENT_SECRET": "a client secret of that app registration",
    "AZURE_CLIENT_CERTIFICATE_PATH": "a PEM (key + certificate) or PFX file registered on the app",
    "AZURE_CLIENT_CERTIFICATE_PASSWORD": "the password of that certificate file, if any",
    "AZURE_AUTHORITY_HOST": f"the Entra authority host (default {DEFAULT_AUTHORITY})",
    "STRIVACITY_URL": "the Strivacity tenant URL, e.g. https://brand.strivacity.com",
    "STRIVACITY_CLIENT_ID": "the client id of a Strivacity REST API client with read:account",
    "STRIVACITY_CLIENT_SECRET": "the client secret of that Strivacity REST API client",
    "STRIVACITY_STORE": f"the Strivacity identity store name (default {DEFAULT_STORE!r})",
    "REQUESTS_CA_BUNDLE": "a CA bundle file to trust instead of the system store",
}


class Secret:
    """A string that never shows itself; ``reveal()`` is the one way to read it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def _required(env: Mapping[str, str], name: str) -> str:
    value = (env.get(name) or "").strip()
    if not value:
        raise ConfigError(f"{name} is not set; it holds {VARIABLES[name]}. "
                          f"Set {name} in the environment (see the README, 'Connecting').")
    return value


def _url(env: Mapping[str, str], name: str, default: str | None = None) -> str:
    value = (env.get(name) or "").strip() or default or _required(env, name)
    if not value.startswith("https://"):
        raise ConfigError(f"{name}={value!r} is not an https URL; it holds {VARIABLES[name]}. "
                          f"Set {name} to the https:// address.")
    return value.rstrip("/")


def _optional(env: Mapping[str, str], name: str) -> str | None:
    return (env.get(name) or "").strip() or None


@dataclass(frozen=True)
class DataverseSettings:
    """Where Dataverse is and how recon signs in to Entra for it."""

    url: str
    tenant_id: str
    client_id: str
    client_secret: Secret | None = None
    certificate_path: str | None = None
    certificate_password: Secret | None = None
    authority_host: str = DEFAULT_AUTHORITY
    ca_bundle: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Self:
        """Read the DATAVERSE_/AZURE_ variables; a missing one is a ConfigError naming it."""
        env = os.environ if env is None else env
        url, tenant = _url(env, "DATAVERSE_URL"), _required(env, "AZURE_TENANT_ID")
        client = _required(env, "AZURE_CLIENT_ID")
        secret, cert = _optional(env, "AZURE_CLIENT_SECRET"), \
            _optional(env, "AZURE_CLIENT_CERTIFICATE_PATH")
        if not secret and not cert:
            raise ConfigError("Neither AZURE_CLIENT_SECRET nor AZURE_CLIENT_CERTIFICATE_PATH is "
                              f"set; one holds {VARIABLES['AZURE_CLIENT_SECRET']} or "
                              f"{VARIABLES['AZURE_CLIENT_CERTIFICATE_PATH']}. Set one of them.")
        password = _optional(env, "AZURE_CLIENT_CERTIFICATE_PASSWORD")
        return cls(url=url, tenant_id=tenant, client_id=client,
                   client_secret=Secret(secret) if secret else None,
                   certificate_path=None if secret else cert,
                   certificate_password=Secret(password) if password else None,
                   authority_host=_url(env, "AZURE_AUTHORITY_HOST", DEFAULT_AUTHORITY),
                   ca_bundle=_optional(env, "REQUESTS_CA_BUNDLE"))

    @property
    def authority(self) -> str:
        """The tenant-specific authority msal signs in against."""
        return f"{self.authority_host}/{self.tenant_id}"

    @property
    def scope(self) -> str:
        """The client-credentials scope: every application permission on this environment."""
        return f"{self.url}/.default"


@dataclass(frozen=True)
class StrivacitySettings:
    """Where the Strivacity Admin API is, which store to read, and the API client."""

    url: str
    client_id: str
    client_secret: Secret
    store: str = DEFAULT_STORE
    ca_bundle: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Self:
        """Read the STRIVACITY_ variables; a missing one is a ConfigError naming it."""
        env = os.environ if env is None else env
        return cls(url=_url(env, "STRIVACITY_URL"),
                   client_id=_required(env, "STRIVACITY_CLIENT_ID"),
                   client_secret=Secret(_required(env, "STRIVACITY_CLIENT_SECRET")),
                   store=_optional(env, "STRIVACITY_STORE") or DEFAULT_STORE,
                   ca_bundle=_optional(env, "REQUESTS_CA_BUNDLE"))


def strivacity_store(env: Mapping[str, str] | None = None) -> str:
    """The identity store named by ``STRIVACITY_STORE`` (default ``"default"``): the store of
    accounts whose export does not say which store holds them."""
    return _optional(os.environ if env is None else env, "STRIVACITY_STORE") or DEFAULT_STORE


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the block (child processes inherit them), then restore."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old
