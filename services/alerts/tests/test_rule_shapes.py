"""What a rule must be: the contract's bounds (a negative duration is refused by decoding, the
service answers it ``bad_rule``) and what they cannot say."""

from __future__ import annotations

import math

import msgspec
import pytest
from pulse_alerts.rules.rulebook import Refused, check_shape
from pulse_contracts.notifications import AlertsRequest, Recipients, Threshold

DECODE = msgspec.json.Decoder(AlertsRequest)
CALLER = '"caller": {"user_id": "u1", "role": "admin"}'


def create(condition: str) -> bytes:
    return (
        f'{{"type": "create_rule", {CALLER}, "name": "hot", "condition": {condition},'
        ' "recipients": {"roles": ["admin"]}}'
    ).encode()


def test_a_threshold_rule_decodes() -> None:
    request = DECODE.decode(create('{"type": "threshold", "metric": "cpu", "value": 90}'))
    assert request.condition == Threshold(metric="cpu", value=90)


@pytest.mark.parametrize(
    ("condition", "error"),
    [
        (
            '{"type": "threshold", "metric": "cpu", "value": 90, "for_s": -1}',
            "Expected `float` >= 0.0 - at `$.condition.for_s`",
        ),
        (
            '{"type": "no_data", "metric": "cpu", "for_s": 0}',
            "Expected `float` > 0.0 - at `$.condition.for_s`",
        ),
        (
            '{"type": "threshold", "metric": "cpu.*", "value": 1}',
            "Expected `str` matching regex '^[A-Za-z0-9_-]{1,64}$' - at `$.condition.metric`",
        ),
        (
            '{"type": "student_idle", "class_id": "bio", "minutes": -5}',
            "Expected `float` > 0.0 - at `$.condition.minutes`",
        ),
        ('{"type": "nonsense"}', "Invalid value 'nonsense' - at `$.condition.type`"),
    ],
)
def test_refused_conditions_name_the_field(condition: str, error: str) -> None:
    with pytest.raises(msgspec.ValidationError) as caught:
        DECODE.decode(create(condition))
    assert str(caught.value) == error


def test_a_rule_needs_recipients_and_finite_values() -> None:
    with pytest.raises(Refused) as no_one:
        check_shape(Threshold(metric="cpu", value=1), Recipients())
    assert no_one.value.error.code == "bad_rule"
    with pytest.raises(Refused) as infinite:
        check_shape(Threshold(metric="cpu", value=math.inf), Recipients(everyone=True))
    assert infinite.value.error.code == "bad_rule"
