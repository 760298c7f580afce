"""``recon check``: are the settings complete, and will each system let recon do its work?

For each system, one line per check, in order, each naming what to fix when it fails:

- Dynamics: the settings; an Entra token; ``WhoAmI``; one contact read (``$top=1``); the
  application user's privileges through its roles and teams
  (``RetrieveUserSetOfPrivilegesByNames``): read, create and write contacts.
- Strivacity: the settings; a ``read:account`` token; one page of one account; a token for the
  scopes ``recon apply --to strivacity`` asks for.

A failed step skips the steps that need it. The exit code is the failure's: 2 for settings
(``ConfigError``), 4 for a service that refused (``HttpError``); secrets are never printed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from recon.errors import EXIT_OK, AuthError, ConfigError, HttpError, ReconError
from recon.http import PageRequest, build_session
from recon.retry import RetryPolicy
from recon.settings import SETTINGS_HELP, DataverseSettings, SettingsError, StrivacitySettings

OK, FAIL, WARN, SKIP = "ok", "FAIL", "warn", "skip"
SYSTEMS = ("dynamics", "strivacity")
#: What apply needs of the Dataverse application user (read for pulls, the rest for apply).
CONTACT_PRIVILEGES = {"prvReadContact": "read contacts, for pull and report",
                      "prvCreateContact": "create contacts, for apply's create_in_dynamics",
                      "prvWriteContact": "write contacts, for apply's update_dynamics"}
#: A check asks once and gives up early: it is a diagnosis, not a job.
CHECK_RETRY = RetryPolicy(max_attempts=3, max_wait=20.0)
_ROLE_FIX = ("In the Power Platform admin center, give the application user a security role with "
             "Contact Read, Create and Write at business-unit level (README: 'Connecting to a "
             "real tenant').")


@dataclass(frozen=True)
class Check:
    """One checked thing: which system, what, how it went, and the detail or the fix."""

    system: str
    what: str
    status: str
    detail: str
    exit_code: int = EXIT_OK

    def line(self) -> str:
        return f"{self.status:<4}  {self.system:<10}  {self.what}: {self.detail}"


#: A step returns its detail, or raises a ReconError (its message says what to fix).
Step = tuple[str, Callable[[], str]]


def _run(system: str, steps: Sequence[Step]) -> Iterator[Check]:
    """Run ``steps`` in order; after a failure the rest are skipped."""
    failed: str | None = None
    for what, step in steps:
        if failed:
            yield Check(system, what, SKIP, f"not tried: {failed} failed")
            continue
        try:
            detail = step()
        except ReconError as error:
            failed = what
            yield Check(system, what, FAIL, str(error), error.exit_code)
            continue
        warned = detail.startswith("warning: ")
        yield Check(system, what, WARN if warned else OK, detail.removeprefix("warning: "))


def _settings_checks(system: str, read: Callable[[], Any],
                     describe: Callable[[Any], str]) -> tuple[list[Check], Any]:
    try:
        settings = read()
    except SettingsError as error:
        return [Check(system, "settings", FAIL, problem, error.exit_code)
                for problem in error.problems], None
    return [Check(system, "settings", OK, describe(settings))], settings


def _describe_dataverse(s: DataverseSettings) -> str:
    credential = ("AZURE_CLIENT_SECRET (hidden)" if s.client_secret is not None else
                  f"certificate {s.certificate_path}")
    return (f"{s.url}, tenant {s.tenant_id}, client {s.client_id}, {credential}, authority "
            f"{s.authority_host}" + (f", CA bundle {s.ca_bundle}" if s.ca_bundle else ""))


def _describe_strivacity(s: StrivacitySettings) -> str:
    return (f"{s.url}, store {s.store!r}, client {s.client_id}, STRIVACITY_CLIENT_SECRET "
            "(hidden)" + (f", CA bundle {s.ca_bundle}" if s.ca_bundle else ""))


def check_dynamics(env: Mapping[str, str] | None = None,
                   retry: RetryPolicy = CHECK_RETRY) -> Iterator[Check]:
    """The Dynamics checks, each as soon as it is done."""
    checks, settings = _settings_checks("dynamics", lambda: DataverseSettings.from_env(env),
                                        _describe_dataverse)
    yield from checks
    if settings is None:
        yield Check("dynamics", "connection", SKIP, "not tried: fix the settings first")
        return
    yield from _run("dynamics", _DataverseProbe(settings, retry).steps())


class _DataverseProbe:
    """The Dataverse steps over one session: token, WhoAmI, one read, the privileges."""

    def __init__(self, settings: DataverseSettings, retry: RetryPolicy) -> None:
        self.settings, self.retry = settings, retry
        self.user: str | None = None
        self.client: Any = None

    def steps(self) -> list[Step]:
        return [("token", self.token), ("WhoAmI", self.who_am_i),
                ("read contacts", self.read), ("privileges", self.privileges)]

    def token(self) -> str:
        from recon.dynamics.auth import MsalTokenSource
        from recon.dynamics.client import DataverseClient
        session = build_session(self.settings.ca_bundle)
        tokens = MsalTokenSource(self.settings, session)
        tokens.token()
        self.client = DataverseClient(session, tokens, self.settings.url, self.retry)
        return f"Entra issued a token for {self.settings.scope} ({self.settings.authority})"

    def who_am_i(self) -> str:
        body = self.client.request("GET", self.client.url("WhoAmI")).json()
        self.user = str(body.get("UserId"))
        return (f"signed in as application user {self.user} (business unit "
                f"{body.get('BusinessUnitId')})")

    def read(self) -> str:
        request = PageRequest(self.client.url("contacts"), {"$select": "contactid", "$top": "1"})
        rows = self.client.get_json(request).get("value", [])
        return f"GET contacts?$top=1 answered {len(rows)} row" + ("" if len(rows) == 1 else "s")

    def privileges(self) -> str:
        names = quote(json.dumps(list(CONTACT_PRIVILEGES), separators=(",", ":")), safe="")
        url = self.client.url(f"systemusers({self.user})/Microsoft.Dynamics.CRM."
                              f"RetrieveUserSetOfPrivilegesByNames(PrivilegeNames=@p)") + \
            f"?@p={names}"  # roles and teams both count
        try:
            rows = self.client.request("GET", url).json().get("RolePrivileges", [])
        except AuthError as error:  # reading one's own privileges needs prvReadUser
            return (f"warning: could not list the application user's privileges ({error.status})"
                    "; apply will report a missing one when it writes.")
        held = {row.get("PrivilegeName"): row.get("Depth") for row in rows}
        return judge_privileges(held)


def judge_privileges(held: Mapping[str, Any]) -> str:
    """The privileges detail; raises AuthError naming each missing one and the fix."""
    missing = [f"{name} ({use})" for name, use in CONTACT_PRIVILEGES.items() if name not in held]
    if missing:
        raise AuthError(f"the application user lacks {', '.join(missing)}. {_ROLE_FIX}")
    basic = [name for name in CONTACT_PRIVILEGES if str(held[name]).lower() == "basic"]
    if basic:
        return (f"warning: {', '.join(basic)} only at user level (Basic): apply can change only "
                f"contacts the application user owns. {_ROLE_FIX}")
    return ", ".join(f"{name} ({held[name]})" for name in CONTACT_PRIVILEGES)


def check_strivacity(env: Mapping[str, str] | None = None,
                     retry: RetryPolicy = CHECK_RETRY) -> Iterator[Check]:
    """The Strivacity checks, each as soon as it is done."""
    checks, settings = _settings_checks("strivacity", lambda: StrivacitySettings.from_env(env),
                                        _describe_strivacity)
    yield from checks
    if settings is None:
        yield Check("strivacity", "connection", SKIP, "not tried: fix the settings first")
        return
    yield from _run("strivacity", _StrivacityProbe(settings, retry).steps())


class _StrivacityProbe:
    """The Strivacity steps: a read token, one account, a token with apply's scopes."""

    def __init__(self, settings: StrivacitySettings, retry: RetryPolicy) -> None:
        self.settings, self.retry = settings, retry
        self.session = build_session(settings.ca_bundle)
        self.client: Any = None

    def steps(self) -> list[Step]:
        return [("token", self.token), ("read accounts", self.read),
                ("apply scopes", self.apply_scopes)]

    def token(self) -> str:
        from recon.strivacity.client import SCOPE, StrivacityClient, StrivacityTokens
        tokens = StrivacityTokens(self.settings, self.session)
        tokens.token()
        self.client = StrivacityClient(self.session, tokens, self.settings.url, self.retry)
        return f"a {SCOPE} token from {self.settings.url}/oauth2/token"

    def read(self) -> str:
        url = self.client.accounts_url(self.settings.store)
        rows = self.client.get_json(PageRequest(url, {"page": "0", "size": "1"}))
        if not isinstance(rows, list):
            raise HttpError(f"GET {url} did not answer a JSON array of accounts. Check "
                            "STRIVACITY_URL is the tenant URL.", url=url)
        return (f"GET identityStores/{self.settings.store}/accounts?size=1 answered "
                f"{len(rows)} account" + ("" if len(rows) == 1 else "s"))

    def apply_scopes(self) -> str:
        from recon.apply.strivacity import SCOPES
        from recon.strivacity.client import StrivacityTokens
        StrivacityTokens(self.settings, self.session, scope=SCOPES).token()
        return f"a token for {SCOPES}"


CHECKS: dict[str, Callable[..., Iterator[Check]]] = {"dynamics": check_dynamics,
                                                      "strivacity": check_strivacity}


def iter_checks(systems: Sequence[str] = SYSTEMS, env: Mapping[str, str] | None = None,
                retry: RetryPolicy = CHECK_RETRY) -> Iterator[Check]:
    """Every check of ``systems``, in order, as each finishes."""
    env = dict(os.environ) if env is None else env
    for system in dict.fromkeys(systems):
        if system not in CHECKS:
            raise ConfigError(f"{system!r} is not a system recon checks; valid: "
                              f"{', '.join(CHECKS)}.")
        yield from CHECKS[system](env, retry)


def verdict(checks: Sequence[Check]) -> ReconError | None:
    """None when every check passed; else the error to exit with (settings before services)."""
    failed = [c for c in checks if c.status == FAIL]
    if not failed:
        return None
    kind: type[ReconError] = (ConfigError if any(c.exit_code == ConfigError.exit_code
                                                 for c in failed) else HttpError)
    where = ", ".join(dict.fromkeys(f"{c.system} {c.what}" for c in failed))
    hint = f" Set the variables {SETTINGS_HELP}." if kind is ConfigError else ""
    return kind(f"{len(failed)} check{'s' if len(failed) > 1 else ''} failed ({where}); fix "
                f"the lines marked FAIL and run `recon check` again.{hint}")
