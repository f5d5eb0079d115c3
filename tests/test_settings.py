import pytest

from fossatum import settings
from fossatum.settings import SETTINGS, SettingsError, load


def test_every_setting_is_documented() -> None:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "settings.md").read_text()
    for setting in SETTINGS:
        assert f"`FOSSATUM_{setting.name.upper()}`" in text, setting.name


def test_environment_overrides_defaults_and_options_override_environment() -> None:
    conf = load({"FOSSATUM_PORT": "8100"})
    assert conf.port == 8100
    assert load({"FOSSATUM_PORT": "8100"}, port=9000).port == 9000
    assert load({}).host == "127.0.0.1"


@pytest.mark.parametrize("environ, message", [
    ({"FOSSATUM_PROT": "1"}, "unknown setting FOSSATUM_PROT"),
    ({"FOSSATUM_PORT": "eighty"}, "FOSSATUM_PORT must be a whole number"),
    ({"FOSSATUM_SESSION_HOURS": "0"}, "FOSSATUM_SESSION_HOURS must be at least 1"),
])
def test_a_bad_setting_fails_with_one_clear_line(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load(environ)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_unrelated_environment_is_ignored() -> None:
    assert settings.load({"PATH": "/bin", "HOME": "/root"}).port == 8000


def test_the_test_suites_own_variables_are_not_node_settings() -> None:
    conf = load({"FOSSATUM_TEST_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/postgres"})
    assert conf.database_url == ""
