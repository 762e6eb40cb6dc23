"""Validation messages: one line naming each field and showing the value (no database)."""

from __future__ import annotations

import pytest

from hubctl.errors import ValidationError
from hubctl.tables import JOBS
from hubctl.validation import validate_model


def test_messages_name_each_field_and_show_the_value() -> None:
    with pytest.raises(ValidationError) as caught:
        validate_model(
            JOBS.spec, {"dag_name": "d", "job_name": "j", "batch_size": 0, "priority": 99}
        )
    message = str(caught.value)
    assert "batch_size: Input should be greater than 0 (got '0')" in message
    assert "priority: Input should be less than or equal to 10 (got '99')" in message
