"""Settings come from the azure-identity variables; secrets never show."""

import logging

import pytest

from recon.errors import ConfigError
from recon.settings import DEFAULT_AUTHORITY, DataverseSettings, Secret, StrivacitySettings

DATAVERSE = {"DATAVERSE_URL": "https://contoso.crm.dynamics.com/", "AZURE_TENANT_ID": "tid",
             "AZURE_CLIENT_ID": "cid", "AZURE_CLIENT_SECRET": "s3cret-value"}
STRIVACITY = {"STRIVACITY_URL": "https://brand.strivacity.com", "STRIVACITY_CLIENT_ID": "sc",
              "STRIVACITY_CLIENT_SECRET": "s3cret-value"}


def test_dataverse_settings_from_env() -> None:
    settings = DataverseSettings.from_env({**DATAVERSE, "REQUESTS_CA_BUNDLE": "/ca.pem"})
    assert settings.url == "https://contoso.crm.dynamics.com"
    assert settings.scope == "https://contoso.crm.dynamics.com/.default"
    assert settings.authority == f"{DEFAULT_AUTHORITY}/tid"
    assert settings.client_secret == Secret("s3cret-value")
    assert settings.ca_bundle == "/ca.pem"


def test_authority_host_can_be_overridden() -> None:
    env = {**DATAVERSE, "AZURE_AUTHORITY_HOST": "https://127.0.0.1:8443/"}
    assert DataverseSettings.from_env(env).authority == "https://127.0.0.1:8443/tid"


def test_certificate_instead_of_secret() -> None:
    env = {**DATAVERSE, "AZURE_CLIENT_SECRET": "", "AZURE_CLIENT_CERTIFICATE_PATH": "/c.pem"}
    settings = DataverseSettings.from_env(env)
    assert settings.client_secret is None and settings.certificate_path == "/c.pem"


@pytest.mark.parametrize("missing", ["DATAVERSE_URL", "AZURE_TENANT_ID", "AZURE_CLIENT_ID"])
def test_missing_variable_is_named_with_what_it_holds(missing: str) -> None:
    env = {k: v for k, v in DATAVERSE.items() if k != missing}
    with pytest.raises(ConfigError, match=f"^{missing} is not set; it holds .+Set {missing}"):
        DataverseSettings.from_env(env)


def test_neither_secret_nor_certificate() -> None:
    env = {k: v for k, v in DATAVERSE.items() if k != "AZURE_CLIENT_SECRET"}
    with pytest.raises(ConfigError, match="AZURE_CLIENT_SECRET nor AZURE_CLIENT_CERTIFICATE_PATH"):
        DataverseSettings.from_env(env)


def test_http_urls_are_refused() -> None:
    with pytest.raises(ConfigError, match="DATAVERSE_URL=.* is not an https URL"):
        DataverseSettings.from_env({**DATAVERSE, "DATAVERSE_URL": "http://x"})


def test_strivacity_settings_and_store_default() -> None:
    settings = StrivacitySettings.from_env(STRIVACITY)
    assert settings.store == "default" and settings.client_id == "sc"
    assert StrivacitySettings.from_env({**STRIVACITY, "STRIVACITY_STORE": "eu"}).store == "eu"
    with pytest.raises(ConfigError, match="^STRIVACITY_CLIENT_SECRET is not set"):
        StrivacitySettings.from_env({**STRIVACITY, "STRIVACITY_CLIENT_SECRET": " "})


def test_secrets_never_show(caplog: pytest.LogCaptureFixture) -> None:
    dataverse = DataverseSettings.from_env(DATAVERSE)
    strivacity = StrivacitySettings.from_env(STRIVACITY)
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("settings %s %r", dataverse, strivacity)
    shown = " ".join([repr(dataverse), str(dataverse), repr(strivacity), f"{strivacity}",
                      caplog.text])
    assert "s3cret" not in shown
    assert dataverse.client_secret is not None
    assert dataverse.client_secret.reveal() == "s3cret-value"
