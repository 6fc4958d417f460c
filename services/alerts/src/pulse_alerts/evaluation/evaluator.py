"""The rules evaluated against the live data, in memory, with the clock passed in.

Nothing here waits: a metric batch, a class's events or a tick changes the alerts at once and
records each changed one as *dirty*; the evaluator's loop (:mod:`.leader`) writes the dirty ones
to ``alerts.firing`` and only then sends the notifications they owe, so a notification is never
sent for a state a restart would not find.

Per (rule, series): at rest (no row); ``pending`` while the condition holds for less than the
rule's duration; ``firing`` (one notification); ``resolved`` when it clears (one more
notification, then the row goes). A series whose resolve is not yet sent does not start again
until it is (a fraction of a second).

Cost: rules are indexed by metric name (and classroom rules by class), so a batch of a metric
no rule watches is one dict lookup; one that is watched costs one comparison per rule on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from pulse_contracts.classroom import NotebookEvent
from pulse_contracts.notifications import (
    AlertRule,
    CellErrors,
    ClassBehind,
    NoData,
    Rate,
    StudentIdle,
    Threshold,
)

from .alerts import Alert, AlertKey
from .classroom import ClassActivity

US_PER_S = 1_000_000


def metric_series(source: str, metric: str) -> str:
    return f"{source}:{metric}"


@dataclass(slots=True)
class _MetricWatch:
    """The enabled rules on one metric name, by kind."""

    levels: list[tuple[AlertRule, Threshold]] = field(default_factory=list)
    rates: list[tuple[AlertRule, Rate]] = field(default_factory=list)
    silences: list[tuple[AlertRule, NoData]] = field(default_factory=list)


@dataclass(slots=True)
class _ClassWatch:
    errors: list[tuple[AlertRule, CellErrors]] = field(default_factory=list)
    idle: list[tuple[AlertRule, StudentIdle]] = field(default_factory=list)
    behind: list[tuple[AlertRule, ClassBehind]] = field(default_factory=list)


class Evaluator:
    def __init__(self) -> None:
        self.rules: dict[str, AlertRule] = {}
        self.alerts: dict[AlertKey, Alert] = {}
        self.classes: dict[str, ClassActivity] = {}
        self._metrics: dict[str, _MetricWatch] = {}
        self._class_rules: dict[str, _ClassWatch] = {}
        self._last_seen: dict[str, dict[str, float]] = {}
        """Per metric with a ``no_data`` rule: each source's last batch (evaluator clock)."""
        self._previous: dict[str, tuple[float, float]] = {}
        """Per series of a metric with a ``rate`` rule: its last point (time s, value)."""
        self._pending: set[AlertKey] = set()
        self._dirty: dict[AlertKey, Alert | None] = {}

    # --- rules and stored state ----------------------------------------------------------

    def load(self, rules: Iterable[AlertRule], alerts: Iterable[Alert]) -> None:
        """The rules and the stored alerts, replacing what was held (at the start, and after a
        rule changed). What the data taught (last points, classes' activity) is kept."""
        self.rules = {rule.id: rule for rule in rules if rule.enabled}
        self._metrics = {}
        self._class_rules = {}
        for rule in self.rules.values():
            condition = rule.condition
            if isinstance(condition, Threshold | Rate | NoData):
                watch = self._metrics.setdefault(condition.metric, _MetricWatch())
                if isinstance(condition, Threshold):
                    watch.levels.append((rule, condition))
                elif isinstance(condition, Rate):
                    watch.rates.append((rule, condition))
                else:
                    watch.silences.append((rule, condition))
                    self._last_seen.setdefault(condition.metric, {})
            else:
                classes = self._class_rules.setdefault(condition.class_id, _ClassWatch())
                self.classes.setdefault(condition.class_id, ClassActivity())
                if isinstance(condition, CellErrors):
                    classes.errors.append((rule, condition))
                elif isinstance(condition, StudentIdle):
                    classes.idle.append((rule, condition))
                else:
                    classes.behind.append((rule, condition))
        self.alerts = {alert.key: alert for alert in alerts if alert.rule_id in self.rules}
        self._pending = {key for key, alert in self.alerts.items() if alert.state == "pending"}
        self._dirty.clear()

    def watches_metric(self, metric: str) -> bool:
        return metric in self._metrics

    def watches_class(self, class_id: str) -> bool:
        return class_id in self._class_rules

    def seed_last_seen(self, metric: str, source: str, at: float) -> None:
        """A series' last point as stored (at the start), so that one silent since before the
        start still raises its ``no_data``."""
        seen = self._last_seen.get(metric)
        if seen is not None and source not in seen:
            seen[source] = at

    def set_plan(self, class_id: str, planned_cells: int | None) -> None:
        activity = self.classes.get(class_id)
        if activity is not None:
            activity.planned_cells = planned_cells

    def take_dirty(self) -> list[tuple[AlertKey, Alert | None]]:
        """The alerts changed since the last call, as they are now (None: gone)."""
        dirty = [
            (key, alert.snapshot() if alert is not None else None)
            for key, alert in self._dirty.items()
        ]
        self._dirty.clear()
        return dirty

    def unsent(self) -> list[Alert]:
        return [alert.snapshot() for alert in self.alerts.values() if alert.unsent]

    @property
    def has_dirty(self) -> bool:
        return bool(self._dirty)

    def mark_sent(
        self, key: AlertKey, fired_at: float | None, what: Literal["fire", "resolve"]
    ) -> None:
        """The notifier answered the firing (``fire``) or the resolve of the alert ``key``
        that fired at ``fired_at``: it is marked, or (resolved) gone."""
        alert = self.alerts.get(key)
        if alert is None or alert.fired_at != fired_at:
            return
        if what == "resolve":
            if alert.state == "resolved":
                del self.alerts[key]
                self._dirty[key] = None
        elif not alert.fire_sent:
            alert.fire_sent = True
            self._dirty[key] = alert

    # --- the data ------------------------------------------------------------------------

    def observe_batch(
        self, source: str, metric: str, times_us: Sequence[int], values: Sequence[float], now: float
    ) -> None:
        """A batch of one series (its last point counts)."""
        watch = self._metrics.get(metric)
        if watch is None or not values:
            return
        series = metric_series(source, metric)
        value = values[-1]
        for rule, level in watch.levels:
            if level.source is None or level.source == source:
                breach = value > level.value if level.op == "above" else value < level.value
                self._hold(rule.id, series, breach, value, for_s=level.for_s, now=now)
        if watch.rates:
            time_s = times_us[-1] / US_PER_S
            previous = self._previous.get(series)
            self._previous[series] = (time_s, value)
            if previous is not None and time_s > previous[0]:
                per_s = (value - previous[1]) / (time_s - previous[0])
                for rule, rate in watch.rates:
                    if rate.source is None or rate.source == source:
                        breach = per_s > rate.per_s if rate.op == "above" else per_s < rate.per_s
                        self._hold(rule.id, series, breach, per_s, for_s=rate.for_s, now=now)
        if watch.silences:
            self._last_seen[metric][source] = now
            for rule, silence in watch.silences:
                if silence.source is None or silence.source == source:
                    self._hold(rule.id, series, False, value, for_s=silence.for_s, now=now)

    def observe_events(self, class_id: str, events: Iterable[NotebookEvent], now: float) -> None:
        watch = self._class_rules.get(class_id)
        if watch is None:
            return
        activity = self.classes[class_id]
        for event in events:
            student = activity.seen(event.user_id, now)
            student_series = f"{class_id}:{event.user_id}"
            for rule, _idle in watch.idle:
                self._hold(rule.id, student_series, False, 0.0, for_s=0.0, now=now)
            if event.event_type != "cell_executed" or event.cell_index is None:
                continue
            student.furthest_cell = max(student.furthest_cell, event.cell_index + 1)
            cell = event.cell_id or str(event.cell_index)
            errors = student.errors.get(cell, 0) + 1 if event.has_error else 0
            student.errors[cell] = errors
            cell_series = f"{student_series}:{cell}"
            for rule, cell_errors in watch.errors:
                breach = errors >= cell_errors.errors
                self._hold(rule.id, cell_series, breach, float(errors), for_s=0.0, now=now)

    def tick(self, now: float) -> None:
        """The timers: a condition held for its duration, silences, idle students, the
        classes' plans."""
        self._tick_held(now)
        self._tick_silences(now)
        self._tick_classes(now)

    def _tick_held(self, now: float) -> None:
        for key in list(self._pending):
            alert = self.alerts[key]
            condition = self.rules[alert.rule_id].condition
            if isinstance(condition, Threshold | Rate) and now - alert.since >= condition.for_s:
                self._fire(alert, now)

    def _tick_silences(self, now: float) -> None:
        for metric, watch in self._metrics.items():
            if not watch.silences:
                continue
            for source, last in self._last_seen[metric].items():
                series = metric_series(source, metric)
                for rule, silence in watch.silences:
                    if silence.source is not None and silence.source != source:
                        continue
                    if now - last >= silence.for_s and (rule.id, series) not in self.alerts:
                        self._start(rule.id, series, None, since=last, now=now, for_s=0.0)

    def _tick_classes(self, now: float) -> None:
        for class_id, classes in self._class_rules.items():
            activity = self.classes[class_id]
            for rule, idle in classes.idle:
                for student_id, student in activity.students.items():
                    idle_s = now - student.last_event
                    if idle_s >= idle.minutes * 60:
                        series = f"{class_id}:{student_id}"
                        self._hold(rule.id, series, True, idle_s / 60, for_s=0.0, now=now)
            for rule, behind in classes.behind:
                cells = activity.cells_behind(now, behind.plan_minutes)
                if cells is not None:
                    breach = cells >= behind.cells
                    self._hold(rule.id, class_id, breach, cells, for_s=0.0, now=now)

    # --- one (rule, series) --------------------------------------------------------------

    def _hold(
        self, rule_id: str, series: str, breach: bool, value: float, *, for_s: float, now: float
    ) -> None:
        key = (rule_id, series)
        alert = self.alerts.get(key)
        if breach:
            if alert is None:
                self._start(rule_id, series, value, since=now, now=now, for_s=for_s)
            elif alert.state == "pending":
                alert.value = value
                if now - alert.since >= for_s:
                    self._fire(alert, now)
            elif alert.state == "firing":
                alert.value = value  # kept in memory; written with its next change
        elif alert is not None:
            if alert.state == "pending":
                del self.alerts[key]
                self._pending.discard(key)
                self._dirty[key] = None
            elif alert.state == "firing":
                alert.state = "resolved"
                alert.resolved_at = now
                alert.value = value
                self._dirty[key] = alert

    def _start(
        self,
        rule_id: str,
        series: str,
        value: float | None,
        *,
        since: float,
        now: float,
        for_s: float,
    ) -> None:
        alert = Alert(rule_id=rule_id, series=series, state="pending", since=since, value=value)
        self.alerts[alert.key] = alert
        if now - since >= for_s:
            self._fire(alert, now)
        else:
            self._pending.add(alert.key)
            self._dirty[alert.key] = alert

    def _fire(self, alert: Alert, now: float) -> None:
        alert.state = "firing"
        alert.fired_at = round(now, 3)  # milliseconds, as its dedupe key says it
        self._pending.discard(alert.key)
        self._dirty[alert.key] = alert
