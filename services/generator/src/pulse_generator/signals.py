"""Plausible simulated signals; each ``sample(t)`` takes seconds since start."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Protocol


class Signal(Protocol):
    name: str
    unit: str

    def sample(self, t: float) -> float: ...


class CpuLoad:
    """Percent busy: a slowly drifting baseline, mean-reverting noise, occasional bursts."""

    unit = "percent"

    def __init__(self, rng: random.Random, name: str = "cpu") -> None:
        self.name = name
        self._rng = rng
        self._baseline = 25.0
        self._value = 25.0

    def sample(self, t: float) -> float:
        self._baseline = min(70.0, max(5.0, self._baseline + self._rng.gauss(0, 0.5)))
        burst = 30.0 if self._rng.random() < 0.02 else 0.0
        self._value += 0.3 * (self._baseline - self._value) + self._rng.gauss(0, 3.0)
        return min(100.0, max(0.0, self._value + burst))


class MemoryUsed:
    """Percent of memory in use: a slow random walk between 20 and 90."""

    unit = "percent"

    def __init__(self, rng: random.Random, name: str = "mem") -> None:
        self.name = name
        self._rng = rng
        self._value = 45.0

    def sample(self, t: float) -> float:
        self._value = min(90.0, max(20.0, self._value + self._rng.gauss(0, 0.4)))
        return self._value


class SineSensor:
    """A periodic reading (a temperature, say) with measurement noise."""

    unit = "celsius"

    def __init__(
        self, rng: random.Random, name: str, *, mean: float, amplitude: float, period_s: float
    ) -> None:
        self.name = name
        self._rng = rng
        self._mean = mean
        self._amplitude = amplitude
        self._period_s = period_s

    def sample(self, t: float) -> float:
        phase = 2 * math.pi * t / self._period_s
        return self._mean + self._amplitude * math.sin(phase) + self._rng.gauss(0, 0.2)


class RandomWalk:
    """An unbounded drifting reading (a pressure, say)."""

    unit = "hPa"

    def __init__(self, rng: random.Random, name: str, *, start: float, step: float) -> None:
        self.name = name
        self._rng = rng
        self._value = start
        self._step = step

    def sample(self, t: float) -> float:
        self._value += self._rng.gauss(0, self._step)
        return self._value


@dataclass(frozen=True)
class Spike:
    """At ``value`` during ``[k * every_s, k * every_s + duration_s)`` for k = 1, 2, …"""

    every_s: float
    duration_s: float
    value: float


class Spiking:
    """``signal`` with an occasional :class:`Spike`, for an alert rule to catch."""

    def __init__(self, signal: Signal, spike: Spike) -> None:
        self.name = signal.name
        self.unit = signal.unit
        self._signal = signal
        self._spike = spike

    def sample(self, t: float) -> float:
        normal = self._signal.sample(t)  # sampled anyway: the series goes on where it was
        every_s = self._spike.every_s
        if t >= every_s and t % every_s < self._spike.duration_s:
            return self._spike.value
        return normal


def simulated_signals(
    sensor_count: int, rng: random.Random, spike: Spike | None = None
) -> list[Signal]:
    """cpu (with its ``spike``, if any) and mem, then sensors alternating sine-plus-noise and
    random walk."""
    cpu: Signal = CpuLoad(rng)
    if spike is not None:
        cpu = Spiking(cpu, spike)
    signals: list[Signal] = [cpu, MemoryUsed(rng)]
    for index in range(sensor_count):
        number = index + 1
        if index % 2 == 0:
            signals.append(
                SineSensor(
                    rng,
                    f"sensor_{number}",
                    mean=20.0 + number,
                    amplitude=5.0,
                    period_s=60.0 * number,
                )
            )
        else:
            walk = RandomWalk(rng, f"sensor_{number}", start=1013.0, step=0.5)
            signals.append(walk)
    return signals
