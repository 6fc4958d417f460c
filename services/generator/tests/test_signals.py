from __future__ import annotations

import random

from pulse_generator.signals import Spike, simulated_signals


def test_cpu_mem_and_sensors_with_plausible_values() -> None:
    signals = simulated_signals(3, random.Random(7))
    assert [s.name for s in signals] == ["cpu", "mem", "sensor_1", "sensor_2", "sensor_3"]
    samples = {s.name: [s.sample(t) for t in range(600)] for s in signals}
    assert all(0 <= v <= 100 for v in samples["cpu"])
    assert len({round(v) for v in samples["cpu"]}) > 10, "cpu should move"
    assert all(20 <= v <= 90 for v in samples["mem"])
    sine = samples["sensor_1"]
    assert 24 < max(sine) < 27
    assert 15 < min(sine) < 18


def test_same_seed_same_series() -> None:
    first = [s.sample(1) for s in simulated_signals(2, random.Random(1))]
    second = [s.sample(1) for s in simulated_signals(2, random.Random(1))]
    assert first == second


def test_cpu_spikes_for_a_while_once_every_period() -> None:
    spike = Spike(every_s=60, duration_s=10, value=97)
    cpu = simulated_signals(0, random.Random(3), spike)[0]
    samples = [cpu.sample(t) for t in range(200)]
    spiking = [t for t, value in enumerate(samples) if value == 97]
    assert spiking == [*range(60, 70), *range(120, 130), *range(180, 190)]
    assert all(0 <= v <= 100 for v in samples)


def test_no_spike_unless_asked() -> None:
    cpu = simulated_signals(0, random.Random(3))[0]
    assert 97 not in [cpu.sample(t) for t in range(200)]
