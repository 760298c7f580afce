"""Connection settings read from the environment, with the azure-identity variable names.

Secrets are wrapped in ``Secret``: it prints as ``***`` in repr, str, f-strings and logs, and
only ``reveal()`` hands the value to the one library call that needs it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
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


#: Where settings are set, for the messages that name a missing one.
SETTINGS_HELP = ("in the environment (README: 'Connecting to a real tenant'), or point recon at "
                 "the local emulator: eval \"$(recon emulator --env --background)\"")


class SettingsError(ConfigError):
    """Settings are missing or wrong; ``problems`` lists every one, ``names`` the variables."""

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = tuple(text for _, text in problems)
        self.names = tuple(dict.fromkeys(name for name, _ in problems))
        if len(problems) == 1:
            message = f"{self.problems[0]} Set {self.names[0]} {SETTINGS_HELP}."
        else:
            lines = "".join(f"\n  - {text}" for text in self.problems)
            message = (f"{len(self.problems)} settings need fixing:{lines}\n"
                       f"Set them {SETTINGS_HELP}.")
        super().__init__(message)


class _Reader:
    """Reads variables, noting every problem instead of stopping at the first one."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[tuple[str, str]] = []

    def optional(self, name: str) -> str | None:
        return (self.env.get(name) or "").strip() or None

    def required(self, name: str) -> str:
        value = self.optional(name)
        if value is None:
            self.problems.append((name, f"{name} is not set; it holds {VARIABLES[name]}."))
        return value or ""

    def url(self, name: str, default: str | None = None) -> str:
        value = self.optional(name) or default or self.required(name)
        if value and not value.startswith("https://"):
            self.problems.append((name, f"{name}={value!r} is not an https URL; it holds "
                                        f"{VARIABLES[name]}. Give the https:// address."))
        return value.rstrip("/")

    def file(self, name: str, value: str | None) -> str | None:
        """``value`` (of variable ``name``) when it names a readable file; else a problem."""
        if value is not None and not Path(value).is_file():
            self.problems.append((name, f"{name}={value} is not a file; it holds "
                                        f"{VARIABLES[name]}. Fix the path or unset it."))
        return value

    def done(self) -> None:
        """Raise one SettingsError naming every problem seen (each variable once)."""
        if self.problems:
            raise SettingsError(list(dict.fromkeys(self.problems)))


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
        """Read the DATAVERSE_/AZURE_ variables; SettingsError names every missing or bad one."""
        reader = _Reader(os.environ if env is None else env)
        settings = cls.read(reader)
        reader.done()
        return settings

    @classmethod
    def read(cls, reader: _Reader) -> Self:
        """The settings as far as they can be read; problems are left in ``reader``."""
        url, tenant = reader.url("DATAVERSE_URL"), reader.required("AZURE_TENANT_ID")
        client = reader.required("AZURE_CLIENT_ID")
        secret = reader.optional("AZURE_CLIENT_SECRET")
        cert = reader.optional("AZURE_CLIENT_CERTIFICATE_PATH")
        if not secret and not cert:
            reader.problems.append(("AZURE_CLIENT_SECRET", (
                "Neither AZURE_CLIENT_SECRET nor AZURE_CLIENT_CERTIFICATE_PATH is set; one holds "
                f"{VARIABLES['AZURE_CLIENT_SECRET']} or "
                f"{VARIABLES['AZURE_CLIENT_CERTIFICATE_PATH']}. Set one of them.")))
        password = reader.optional("AZURE_CLIENT_CERTIFICATE_PASSWORD")
        return cls(url=url, tenant_id=tenant, client_id=client,
                   client_secret=Secret(secret) if secret else None,
                   certificate_path=None if secret else
                   reader.file("AZURE_CLIENT_CERTIFICATE_PATH", cert),
                   certificate_password=Secret(password) if password else None,
                   authority_host=reader.url("AZURE_AUTHORITY_HOST", DEFAULT_AUTHORITY),
                   ca_bundle=reader.file("REQUESTS_CA_BUNDLE",
                                         reader.optional("REQUESTS_CA_BUNDLE")))

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
        """Read the STRIVACITY_ variables; SettingsError names every missing or bad one."""
        reader = _Reader(os.environ if env is None else env)
        settings = cls.read(reader)
        reader.done()
        return settings

    @classmethod
    def read(cls, reader: _Reader) -> Self:
        """The settings as far as they can be read; problems are left in ``reader``."""
        return cls(url=reader.url("STRIVACITY_URL"),
                   client_id=reader.required("STRIVACITY_CLIENT_ID"),
                   client_secret=Secret(reader.required("STRIVACITY_CLIENT_SECRET")),
                   store=reader.optional("STRIVACITY_STORE") or DEFAULT_STORE,
                   ca_bundle=reader.file("REQUESTS_CA_BUNDLE",
                                         reader.optional("REQUESTS_CA_BUNDLE")))


def live_settings(env: Mapping[str, str] | None = None
                  ) -> tuple[DataverseSettings, StrivacitySettings]:
    """Both systems' settings; one SettingsError names every problem of both at once."""
    reader = _Reader(os.environ if env is None else env)
    settings = DataverseSettings.read(reader), StrivacitySettings.read(reader)
    reader.done()
    return settings


def strivacity_store(env: Mapping[str, str] | None = None) -> str:
    """The identity store named by ``STRIVACITY_STORE`` (default ``"default"``): the store of
    accounts whose export does not say which store holds them."""
    reader = _Reader(os.environ if env is None else env)
    return reader.optional("STRIVACITY_STORE") or DEFAULT_STORE


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
