"""Settings come from the azure-identity variables; secrets never show."""

import logging
from pathlib import Path

import pytest

from recon.errors import ConfigError
from recon.settings import (
    DEFAULT_AUTHORITY,
    VARIABLES,
    DataverseSettings,
    Secret,
    SettingsError,
    StrivacitySettings,
    live_settings,
)

DATAVERSE = {"DATAVERSE_URL": "https://contoso.crm.dynamics.com/", "AZURE_TENANT_ID": "tid",
             "AZURE_CLIENT_ID": "cid", "AZURE_CLIENT_SECRET": "s3cret-value"}
STRIVACITY = {"STRIVACITY_URL": "https://brand.strivacity.com", "STRIVACITY_CLIENT_ID": "sc",
              "STRIVACITY_CLIENT_SECRET": "s3cret-value"}


def test_dataverse_settings_from_env(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    settings = DataverseSettings.from_env({**DATAVERSE, "REQUESTS_CA_BUNDLE": str(bundle)})
    assert settings.url == "https://contoso.crm.dynamics.com"
    assert settings.scope == "https://contoso.crm.dynamics.com/.default"
    assert settings.authority == f"{DEFAULT_AUTHORITY}/tid"
    assert settings.client_secret == Secret("s3cret-value")
    assert settings.ca_bundle == str(bundle)


def test_authority_host_can_be_overridden() -> None:
    env = {**DATAVERSE, "AZURE_AUTHORITY_HOST": "https://127.0.0.1:8443/"}
    assert DataverseSettings.from_env(env).authority == "https://127.0.0.1:8443/tid"


def test_certificate_instead_of_secret(tmp_path: Path) -> None:
    cert = tmp_path / "c.pem"
    cert.write_text("pem")
    env = {**DATAVERSE, "AZURE_CLIENT_SECRET": "", "AZURE_CLIENT_CERTIFICATE_PATH": str(cert)}
    settings = DataverseSettings.from_env(env)
    assert settings.client_secret is None and settings.certificate_path == str(cert)


@pytest.mark.parametrize("name", ["REQUESTS_CA_BUNDLE", "AZURE_CLIENT_CERTIFICATE_PATH"])
def test_a_file_setting_that_is_not_a_file_is_named(name: str, tmp_path: Path) -> None:
    env = {**DATAVERSE, "AZURE_CLIENT_SECRET": "", name: str(tmp_path / "nowhere.pem"),
           "AZURE_CLIENT_CERTIFICATE_PATH": str(tmp_path)}  # a folder is not a file either
    with pytest.raises(SettingsError) as caught:
        DataverseSettings.from_env(env)
    assert name in caught.value.names and "AZURE_CLIENT_CERTIFICATE_PATH" in caught.value.names


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


def test_every_missing_variable_of_both_systems_is_named_at_once() -> None:
    with pytest.raises(SettingsError) as caught:
        live_settings({"STRIVACITY_URL": "http://brand.example", "AZURE_TENANT_ID": "tid"})
    error = caught.value
    assert error.names == ("DATAVERSE_URL", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET",
                           "STRIVACITY_URL", "STRIVACITY_CLIENT_ID", "STRIVACITY_CLIENT_SECRET")
    assert str(error).startswith("6 settings need fixing:")
    assert "'http://brand.example' is not an https URL" in str(error)
    assert isinstance(error, ConfigError) and error.exit_code == 2
    lines = str(error).splitlines()[1:-1]
    assert len(lines) == 6 and all(line.startswith("  - ") for line in lines)
    for name, line in zip(error.names, lines, strict=True):  # each with what it holds
        assert name in line and ("it holds" in line or "one holds" in line)


def test_one_problem_per_variable_even_when_both_systems_read_it(tmp_path: Path) -> None:
    env = {**DATAVERSE, **STRIVACITY, "REQUESTS_CA_BUNDLE": str(tmp_path / "gone.pem")}
    with pytest.raises(SettingsError) as caught:
        live_settings(env)
    assert caught.value.names == ("REQUESTS_CA_BUNDLE",)
    assert str(caught.value).count("gone.pem") == 1


def test_complete_settings_of_both_systems() -> None:
    dataverse, strivacity = live_settings({**DATAVERSE, **STRIVACITY})
    assert dataverse.client_id == "cid" and strivacity.client_id == "sc"


def test_every_variable_is_described() -> None:
    for name, holds in VARIABLES.items():
        assert name.isupper() and holds
