"""Settings: every HUB_* variable read with its field's type; bad values named, not guessed."""

from __future__ import annotations

from pathlib import Path

import pytest

from hubctl.errors import ValidationError
from hubctl.settings import Settings


def test_unset_variables_keep_the_defaults() -> None:
    assert Settings.from_environment({}) == Settings()
    assert Settings().home == Path(".hub") and Settings().listener_name == "default"


def test_each_variable_is_parsed_as_its_field_type() -> None:
    settings = Settings.from_environment(
        {
            "HUB_DATABASE_URL": "postgresql+psycopg2://u@h/db",
            "HUB_HOME": "/srv/hub",
            "HUB_CONNECT_TIMEOUT_SECONDS": " 7 ",
            "HUB_LISTENER_NAME": "eu-listener",
            "HUB_STRICT": "yes",
            "HUB_SNAPSHOT_PATH": "",  # empty unsets an optional setting
            "OTHER_HOME": "/ignored",
        }
    )
    assert settings.database_url == "postgresql+psycopg2://u@h/db"
    assert settings.home == Path("/srv/hub")
    assert settings.connect_timeout_seconds == 7
    assert (settings.listener_name, settings.strict) == ("eu-listener", True)
    assert settings.snapshot_path is None
    assert settings.resolved_snapshot_path == Path("/srv/hub/snapshot.json")


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("HUB_AIRFLOW_PORT", "80a", "HUB_AIRFLOW_PORT: expected a whole number, got '80a'"),
        ("HUB_STRICT", "maybe", "HUB_STRICT: expected true or false, got 'maybe'"),
        ("HUB_STATEMENT_TIMEOUT_MS", "", "HUB_STATEMENT_TIMEOUT_MS: expected a whole number"),
    ],
)
def test_a_bad_value_names_its_variable(variable: str, value: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(")):
        Settings.from_environment({variable: value})


def test_the_shard_count_is_checked() -> None:
    assert Settings.from_environment({"HUB_DAG_SHARDS": "16"}).dag_shards == 16
    for wrong in ("0", "1000"):
        with pytest.raises(ValidationError, match="HUB_DAG_SHARDS: expected 1 to 999"):
            Settings.from_environment({"HUB_DAG_SHARDS": wrong})
