"""``Emulator``: Entra + Dataverse + Strivacity on one loopback HTTPS port, seeded from files.

Use it as a context manager; ``info`` and ``env()`` hold what a client needs (URLs, tenant,
credentials, CA bundle). Stores, faults and the request log stay reachable for tests.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from recon.emulator import seed
from recon.emulator.dataverse import Dataverse
from recon.emulator.entra import Entra, EntraConfig, TokenBook
from recon.emulator.faults import FaultDice, Faults
from recon.emulator.server import App, RequestLog, start_server
from recon.emulator.store import AccountStore, ContactStore
from recon.emulator.strivacity import Strivacity
from recon.emulator.tls import make_client_certificate, make_tls_files

Seed = str | Path | list[dict[str, Any]] | None


class Emulator:
    """A local tenant: start with ``with Emulator(...) as emu:``; stops on exit."""

    def __init__(self, dynamics: Seed = None, strivacity: Seed = None,
                 faults: Faults | None = None, port: int = 0, *,
                 client_secret: str | None = None,
                 strivacity_client_secret: str | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.faults = faults or Faults()
        self.clock = clock  # the rate limits' clock: tests pass a fake one
        self.requests = RequestLog()
        self.contacts = self._contacts(dynamics)
        self.accounts = self._accounts(strivacity)
        self._port = port
        self._tmp: Path | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.tenant_id = str(uuid.uuid4())
        self.client_id = str(uuid.uuid4())
        self.client_secret = client_secret or secrets.token_urlsafe(24)
        self.strivacity_client_id = secrets.token_hex(12)
        self.strivacity_client_secret = strivacity_client_secret or secrets.token_urlsafe(24)
        self.info: dict[str, str] = {}

    @staticmethod
    def _contacts(source: Seed) -> ContactStore:
        if isinstance(source, list):
            columns = list(dict.fromkeys(c for row in source for c in row))
            return ContactStore(source, columns)
        rows, header = seed.read_contacts(seed.resolve(source, seed.SAMPLE_DYNAMICS))
        return ContactStore(rows, header)

    @staticmethod
    def _accounts(source: Seed) -> AccountStore:
        records = source if isinstance(source, list) else \
            seed.read_accounts(seed.resolve(source, seed.SAMPLE_STRIVACITY))
        store = next((r["store"] for r in records if r.get("store")), "default")
        return AccountStore(records, store)

    def start(self) -> Emulator:
        """Make the CA, bind the port and start serving; returns ``self``."""
        self._tmp = Path(tempfile.mkdtemp(prefix="recon-emulator-"))
        tls = make_tls_files(self._tmp)
        client_cert = make_client_certificate(self._tmp, self.client_id)
        tokens = TokenBook()
        app = App([], FaultDice(self.faults), self.requests, self.clock)
        self.app = app
        self._server, self._thread = start_server(self._port, str(tls.cert_pem),
                                                  str(tls.key_pem), app)
        base = f"https://127.0.0.1:{self._server.server_address[1]}"
        lifetime = lambda: self.faults.token_lifetime  # noqa: E731 - read live
        entra = Entra(EntraConfig(base, self.tenant_id, self.client_id, self.client_secret, base,
                                  client_cert.certificate), tokens, lifetime)
        self.dataverse = Dataverse(self.contacts, base, tokens,
                                   f"{base}/{self.tenant_id}/oauth2/authorize")
        self.strivacity = Strivacity(self.accounts, base, self.strivacity_client_id,
                                     self.strivacity_client_secret, tokens, lifetime)
        app.services += [(entra, "none"), (self.dataverse, "dataverse"),
                         (self.strivacity, "strivacity")]
        self.tokens = tokens
        self.info = {
            "dataverse_url": base, "authority_host": base, "tenant_id": self.tenant_id,
            "client_id": self.client_id, "client_secret": self.client_secret,
            "strivacity_url": base, "strivacity_client_id": self.strivacity_client_id,
            "strivacity_client_secret": self.strivacity_client_secret,
            "strivacity_store": self.accounts.store, "ca_bundle": str(tls.ca_pem),
            "client_certificate": str(client_cert.pem),
            "client_certificate_thumbprint": client_cert.thumbprint,
        }
        return self

    def env(self) -> dict[str, str]:
        """Environment variables that point recon's clients at this emulator."""
        info = self.info
        return {
            "DATAVERSE_URL": info["dataverse_url"], "AZURE_TENANT_ID": info["tenant_id"],
            "AZURE_CLIENT_ID": info["client_id"], "AZURE_CLIENT_SECRET": info["client_secret"],
            "AZURE_AUTHORITY_HOST": info["authority_host"],
            "STRIVACITY_URL": info["strivacity_url"],
            "STRIVACITY_CLIENT_ID": info["strivacity_client_id"],
            "STRIVACITY_CLIENT_SECRET": info["strivacity_client_secret"],
            "STRIVACITY_STORE": info["strivacity_store"], "REQUESTS_CA_BUNDLE": info["ca_bundle"],
        }

    @property
    def connections(self) -> int:
        """TLS connections accepted so far (a client that keeps them alive opens few)."""
        return self._server.connections if self._server is not None else 0

    def expire_delta_tokens(self) -> None:
        """Make every Dataverse delta link issued so far answer the expired-token error."""
        self.dataverse.queries.expire_delta_tokens()

    def accounts_path(self) -> str:
        """The path of the Strivacity accounts collection (request-log queries)."""
        return f"/admin/api/v1/identityStores/{self.accounts.store}/accounts"

    def release_held(self) -> None:
        """Let answers held by ``Faults.lose_how = "hold"`` go (as dropped connections)."""
        self.app.release.set()

    def revoke_tokens(self) -> None:
        """Invalidate every access token, so the next API call answers 401."""
        self.tokens.revoke_all()

    def stop(self) -> None:
        """Stop serving and delete the CA and keys."""
        if self._server is not None:
            self.app.release.set()
            self._server.shutdown()
            self._server.server_close()
            self.strivacity.bulk.close()
            self._server = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()
