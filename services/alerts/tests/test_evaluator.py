"""The evaluator with a clock of the test's own: each condition fires when it should, once per
series, resolves, and a restart from the stored state does not fire again."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import msgspec
from pulse_alerts.evaluation.alerts import Alert, fire_key, resolve_key
from pulse_alerts.evaluation.evaluator import Evaluator
from pulse_contracts.classroom import NotebookEvent
from pulse_contracts.notifications import (
    AlertRule,
    CellErrors,
    ClassBehind,
    Condition,
    NoData,
    Rate,
    Recipients,
    StudentIdle,
    Threshold,
)

T0 = 1_800_000_000.0
NOW = datetime.fromtimestamp(T0, UTC)


def rule(condition: Condition, rule_id: str = "r1") -> AlertRule:
    return AlertRule(
        id=rule_id,
        name="rule",
        condition=condition,
        severity="warning",
        recipients=Recipients(everyone=True),
        enabled=True,
        owner_id="admin",
        created_at=NOW,
        updated_at=NOW,
    )


def evaluator(*rules: AlertRule, alerts: list[Alert] | None = None) -> Evaluator:
    found = Evaluator()
    found.load(rules, alerts or [])
    return found


def feed(
    found: Evaluator, at: float, value: float, source: str = "host-1", metric: str = "cpu"
) -> None:
    found.observe_batch(source, metric, [int(at * 1_000_000)], [value], at)


def states(found: Evaluator) -> dict[str, str]:
    return {series: alert.state for (_, series), alert in found.alerts.items()}


def settle(found: Evaluator) -> list[Alert]:
    """Write (take the dirty ones) and send what is owed, as the loop would: the alerts whose
    notifications went out, in order."""
    sent = []
    found.take_dirty()
    for alert in found.unsent():
        if not alert.fire_sent:
            found.mark_sent(alert.key, alert.fired_at, "fire")
            sent.append(alert)
        if alert.state == "resolved":
            found.mark_sent(alert.key, alert.fired_at, "resolve")
            sent.append(alert)
    found.take_dirty()
    return sent


def test_a_threshold_fires_only_once_held_for_its_duration() -> None:
    found = evaluator(rule(Threshold(metric="cpu", value=90, for_s=10)))
    feed(found, T0, 95)
    assert states(found) == {"host-1:cpu": "pending"}
    feed(found, T0 + 5, 96)
    found.tick(T0 + 9.9)
    assert states(found) == {"host-1:cpu": "pending"}
    found.tick(T0 + 10)
    assert states(found) == {"host-1:cpu": "firing"}
    assert found.alerts["r1", "host-1:cpu"].fired_at == T0 + 10


def test_a_dip_before_the_duration_starts_it_again() -> None:
    found = evaluator(rule(Threshold(metric="cpu", value=90, for_s=10)))
    feed(found, T0, 95)
    feed(found, T0 + 5, 50)
    assert states(found) == {}
    assert found.take_dirty() == [(("r1", "host-1:cpu"), None)]
    feed(found, T0 + 6, 95)
    found.tick(T0 + 12)
    assert states(found) == {"host-1:cpu": "pending"}
    feed(found, T0 + 16, 95)
    assert states(found) == {"host-1:cpu": "firing"}


def test_below_and_each_source_its_own_alert() -> None:
    found = evaluator(rule(Threshold(metric="mem", op="below", value=10)))
    feed(found, T0, 5, source="a", metric="mem")
    feed(found, T0, 50, source="b", metric="mem")
    feed(found, T0, 2, source="c", metric="mem")
    assert states(found) == {"a:mem": "firing", "c:mem": "firing"}


def test_a_source_named_in_the_rule_is_the_only_one_watched() -> None:
    found = evaluator(rule(Threshold(metric="cpu", source="db", value=90)))
    feed(found, T0, 99, source="web")
    assert states(found) == {}
    feed(found, T0, 99, source="db")
    assert states(found) == {"db:cpu": "firing"}


def test_one_firing_per_series_until_it_resolves_then_resolved_once() -> None:
    found = evaluator(rule(Threshold(metric="cpu", value=90)))
    sent: list[tuple[str, str]] = []
    for second, value in enumerate([95, 99, 97, 98, 50, 40, 95]):
        feed(found, T0 + second, value)
        sent += [(a.state, a.series) for a in settle(found)]
    assert sent == [
        ("firing", "host-1:cpu"),
        ("resolved", "host-1:cpu"),
        ("firing", "host-1:cpu"),
    ]


def test_the_resolve_is_owed_after_the_firing_even_when_not_yet_sent() -> None:
    found = evaluator(rule(Threshold(metric="cpu", value=90)))
    feed(found, T0, 95)
    feed(found, T0 + 1, 10)
    (alert,) = found.unsent()
    assert (alert.state, alert.fire_sent) == ("resolved", False)
    assert resolve_key(alert) == f"{fire_key(alert)}:resolved"


def test_no_data_fires_after_the_silence_and_resolves_with_the_next_point() -> None:
    found = evaluator(rule(NoData(metric="cpu", for_s=30)))
    feed(found, T0, 1)
    found.tick(T0 + 29)
    assert states(found) == {}
    found.tick(T0 + 30)
    assert states(found) == {"host-1:cpu": "firing"}
    assert found.alerts["r1", "host-1:cpu"].since == T0
    found.tick(T0 + 60)
    assert len(found.unsent()) == 1
    feed(found, T0 + 61, 1)
    assert states(found) == {"host-1:cpu": "resolved"}


def test_no_data_for_a_series_last_stored_before_the_start() -> None:
    found = evaluator(rule(NoData(metric="cpu", for_s=30)))
    found.seed_last_seen("cpu", "old", T0 - 100)
    found.tick(T0)
    assert states(found) == {"old:cpu": "firing"}


def test_a_rate_of_change_held_for_its_duration() -> None:
    found = evaluator(rule(Rate(metric="cpu", per_s=5, for_s=2)))
    feed(found, T0, 10)
    feed(found, T0 + 1, 12)  # 2/s
    assert states(found) == {}
    feed(found, T0 + 2, 30)  # 18/s
    assert states(found) == {"host-1:cpu": "pending"}
    feed(found, T0 + 4, 50)  # 10/s, held 2 s
    assert states(found) == {"host-1:cpu": "firing"}
    feed(found, T0 + 5, 51)
    assert states(found) == {"host-1:cpu": "resolved"}


def test_a_falling_rate() -> None:
    found = evaluator(rule(Rate(metric="cpu", op="below", per_s=-5)))
    feed(found, T0, 100)
    feed(found, T0 + 1, 90)
    assert states(found) == {"host-1:cpu": "firing"}


def test_a_restart_from_the_stored_state_does_not_fire_again() -> None:
    first = evaluator(rule(Threshold(metric="cpu", value=90)))
    feed(first, T0, 95)
    settle(first)
    stored = [alert.snapshot() for alert in first.alerts.values()]
    assert [(a.state, a.fire_sent) for a in stored] == [("firing", True)]

    second = evaluator(rule(Threshold(metric="cpu", value=90)), alerts=stored)
    feed(second, T0 + 10, 99)
    assert second.take_dirty() == []
    assert second.unsent() == []
    feed(second, T0 + 11, 10)
    (resolved,) = second.unsent()
    assert resolved.state == "resolved"
    assert resolve_key(resolved) == f"{fire_key(stored[0])}:resolved"


def test_a_restart_before_the_firing_was_sent_sends_it_with_the_same_key() -> None:
    first = evaluator(rule(Threshold(metric="cpu", value=90)))
    feed(first, T0, 95)
    (written,) = [a for _, a in first.take_dirty() if a is not None]
    second = evaluator(rule(Threshold(metric="cpu", value=90)), alerts=[written])
    feed(second, T0 + 1, 97)
    (owed,) = second.unsent()
    assert fire_key(owed) == fire_key(written)


def test_pending_state_kept_across_a_restart_counts_from_its_start() -> None:
    first = evaluator(rule(Threshold(metric="cpu", value=90, for_s=30)))
    feed(first, T0, 95)
    stored = [a for _, a in first.take_dirty() if a is not None]
    second = evaluator(rule(Threshold(metric="cpu", value=90, for_s=30)), alerts=stored)
    second.tick(T0 + 30)
    assert states(second) == {"host-1:cpu": "firing"}


def test_a_disabled_or_deleted_rule_holds_no_alerts() -> None:
    alert = Alert(rule_id="gone", series="a:cpu", state="firing", since=T0, value=1, fired_at=T0)
    found = evaluator(rule(Threshold(metric="cpu", value=90)), alerts=[alert])
    assert found.alerts == {}
    disabled = msgspec.structs.replace(rule(Threshold(metric="cpu", value=90)), enabled=False)
    found.load([disabled], [])
    assert not found.watches_metric("cpu")


def test_a_metric_no_rule_watches_costs_nothing() -> None:
    found = evaluator(rule(Threshold(metric="cpu", value=90)))
    feed(found, T0, 1000, metric="mem")
    assert found.alerts == {}
    assert not found.watches_metric("mem")


# --- the classroom ---------------------------------------------------------------------------


def run(student: str, cell: int, *, error: bool = False) -> NotebookEvent:
    return NotebookEvent(
        event_id=uuid.uuid4(),
        event_type="cell_executed",
        event_time=NOW,
        user_id=student,
        class_id="bio",
        notebook_path="lab.ipynb",
        cell_id=f"c{cell}",
        cell_index=cell,
        has_error=error,
    )


def test_a_student_with_n_errors_on_one_cell_until_it_runs_cleanly() -> None:
    found = evaluator(rule(CellErrors(class_id="bio", errors=3)))
    found.observe_events("bio", [run("ann", 2, error=True), run("ann", 2, error=True)], T0)
    found.observe_events("bio", [run("ann", 3, error=True), run("bob", 2, error=True)], T0)
    assert states(found) == {}
    found.observe_events("bio", [run("ann", 2, error=True)], T0 + 1)
    assert states(found) == {"bio:ann:c2": "firing"}
    found.observe_events("bio", [run("ann", 2, error=True)], T0 + 2)
    assert len(found.unsent()) == 1
    found.observe_events("bio", [run("ann", 2)], T0 + 3)
    assert states(found) == {"bio:ann:c2": "resolved"}


def test_an_idle_student_until_their_next_event() -> None:
    found = evaluator(rule(StudentIdle(class_id="bio", minutes=5)))
    found.observe_events("bio", [run("ann", 0)], T0)
    found.observe_events("bio", [run("bob", 0)], T0 + 200)
    found.tick(T0 + 299)
    assert states(found) == {}
    found.tick(T0 + 300)
    assert states(found) == {"bio:ann": "firing"}
    found.tick(T0 + 301)
    assert len(found.unsent()) == 1
    found.observe_events("bio", [run("ann", 1)], T0 + 310)
    assert states(found) == {"bio:ann": "resolved"}


def test_a_class_whose_median_student_is_behind_the_plan() -> None:
    found = evaluator(rule(ClassBehind(class_id="bio", cells=3, plan_minutes=10)))
    found.set_plan("bio", 20)  # two cells a minute
    found.observe_events("bio", [run("ann", 0), run("bob", 0), run("cyd", 0)], T0)
    found.tick(T0 + 60)  # plan: 2 cells, median: 1
    assert states(found) == {}
    found.observe_events("bio", [run("ann", 9)], T0 + 120)
    found.tick(T0 + 120)  # plan: 4, median 1
    assert states(found) == {"bio": "firing"}
    found.observe_events("bio", [run("bob", 5), run("cyd", 5)], T0 + 150)
    found.tick(T0 + 150)  # plan: 5, median 6
    assert states(found) == {"bio": "resolved"}


def test_class_rules_ignore_other_classes() -> None:
    found = evaluator(rule(CellErrors(class_id="bio", errors=1)))
    found.observe_events("chem", [run("ann", 1, error=True)], T0)
    assert found.alerts == {}
