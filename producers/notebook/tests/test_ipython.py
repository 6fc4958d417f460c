"""``%load_ext pulse_notebook`` in a real (plain) IPython shell: cells run as usual, one
raising, and their events reach the endpoint; ``%pulse_config`` shows and changes the
configuration, the key masked."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

from pulse_notebook.extension import producer_of
from pulse_notebook.location import CellPositions
from pulse_notebook.recorder import without_secrets

from .conftest import KEY, FakeIngest


@pytest.fixture
def shell(
    tmp_path: Path, ingest: FakeIngest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[InteractiveShell]:
    monkeypatch.setenv("PULSE_NOTEBOOK_ENDPOINT", ingest.url)
    monkeypatch.setenv("PULSE_NOTEBOOK_KEY", KEY)
    monkeypatch.setenv("PULSE_NOTEBOOK_STUDENT", "ada@example.edu")
    monkeypatch.setenv("PULSE_NOTEBOOK_SPOOL_DIR", str(tmp_path / "spool"))
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    ip = InteractiveShell.instance()
    ip.run_cell("%load_ext pulse_notebook", store_history=True)
    yield ip
    ip.run_cell("%unload_ext pulse_notebook")
    InteractiveShell.clear_instance()


def cells_of(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["eventType"] == "cell_executed"]


def test_cells_run_in_plain_ipython_are_reported_one_event_each(
    shell: InteractiveShell, ingest: FakeIngest
) -> None:
    first = shell.run_cell("x = 20", store_history=True)
    failing = shell.run_cell("undefined_name + 1", store_history=True)
    last = shell.run_cell("y = x * 2\ny", store_history=True)

    assert first.success
    assert not failing.success  # the notebook behaves as without the producer
    assert last.result == 40
    events = ingest.wait_for(5)
    opened = [e for e in events if e["eventType"] != "cell_executed"]
    assert [e["eventType"] for e in opened] == ["notebook_opened"]
    load, x, bad, y = cells_of(events)
    assert load["code"] == "%load_ext pulse_notebook"
    for event, count in ((x, first), (bad, failing), (y, last)):
        assert event["executionCount"] == count.execution_count
        assert event["cellIndex"] == count.execution_count
        assert event["cellId"] == f"in-{count.execution_count}"
        assert event["notebookPath"] == "ipython"
        assert event["userId"] == "ada@example.edu"
        assert event["cellType"] == "code"
        assert event["executionDurationMs"] >= 0
        assert event["eventTime"].endswith("+00:00")
        assert event["metadata"]["frontend"] == "ipython"
    assert x["code"] == "x = 20"
    assert x["hasError"] is False
    assert "errorName" not in x
    assert bad["hasError"] is True
    assert bad["errorName"] == "NameError"
    assert "undefined_name" in bad["errorMessage"]
    assert len({e["eventId"] for e in events}) == len(events)


def test_a_syntax_error_is_reported_as_an_error(
    shell: InteractiveShell, ingest: FakeIngest
) -> None:
    shell.run_cell("def broken(:", store_history=True)

    [_, bad] = cells_of(ingest.wait_for(3))
    assert bad["errorName"] == "SyntaxError"


def test_a_long_error_message_is_cut_to_2000_characters(
    shell: InteractiveShell, ingest: FakeIngest
) -> None:
    shell.run_cell("raise ValueError('x' * 5000)", store_history=True)

    [_, bad] = cells_of(ingest.wait_for(3))
    assert bad["errorName"] == "ValueError"
    assert len(bad["errorMessage"]) == 2000


def test_pulse_config_shows_the_configuration_with_the_key_masked(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    shell.run_cell("%pulse_config")

    shown = capsys.readouterr().out
    assert "student         = ada@example.edu" in shown
    assert KEY not in shown
    assert KEY[:6] in shown


def test_pulse_config_changes_the_student_and_never_sends_the_key(
    shell: InteractiveShell, ingest: FakeIngest, capsys: pytest.CaptureFixture[str]
) -> None:
    shell.run_cell(f"%pulse_config student=grace@example.edu key={KEY}", store_history=True)
    shell.run_cell("z = 1", store_history=True)

    events = cells_of(ingest.wait_for(4))
    assert events[-1]["userId"] == "grace@example.edu"
    assert all(KEY not in json.dumps(e) for e in events)
    assert "key=***" in events[-2]["code"]
    producer = producer_of(shell)
    assert producer is not None
    assert producer.config.student == "grace@example.edu"


def test_a_bad_option_is_one_line_and_changes_nothing(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    result = shell.run_cell("%pulse_config endpoint=ftp://nowhere")

    assert result.success
    assert "endpoint must start with http" in capsys.readouterr().out


def test_without_configuration_the_notebook_runs_and_events_wait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ingest: FakeIngest
) -> None:
    for name in ("ENDPOINT", "KEY"):
        monkeypatch.delenv(f"PULSE_NOTEBOOK_{name}", raising=False)
    monkeypatch.setenv("PULSE_NOTEBOOK_SPOOL_DIR", str(tmp_path / "spool"))
    ip = InteractiveShell.instance()
    try:
        ip.run_cell("%load_ext pulse_notebook", store_history=True)
        assert ip.run_cell("a = 1", store_history=True).success
        assert ingest.batches == []

        ip.run_cell(f"%pulse_config endpoint={ingest.url} key={KEY}", store_history=True)

        events = ingest.wait_for(4)  # opened, the load cell, a = 1, the config cell
        assert [e["eventType"] for e in events][:1] == ["notebook_opened"]
        assert len(cells_of(events)) == 3
    finally:
        ip.run_cell("%unload_ext pulse_notebook")
        InteractiveShell.clear_instance()


def test_secrets_are_masked_in_a_config_cell() -> None:
    assert without_secrets("%pulse_config key=pk_abc student=x") == (
        "%pulse_config key=*** student=x"
    )
    assert without_secrets("key = 3") == "key = 3"  # other cells are left alone


def test_cell_positions_come_from_the_saved_notebook_then_first_seen_order(
    tmp_path: Path,
) -> None:
    notebook = {
        "cells": [
            {"id": "intro", "cell_type": "markdown"},
            {"id": "load", "cell_type": "code"},
            {"id": "task-1", "cell_type": "code"},
        ],
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (tmp_path / "week1.ipynb").write_text(json.dumps(notebook))
    positions = CellPositions(tmp_path)

    assert positions.index("week1.ipynb", "task-1") == 2
    assert positions.index("lessons/week1.ipynb", "load") == 1  # the server's relative path
    assert positions.index("week1.ipynb", "new-cell") == 3  # not saved yet: after the saved
    assert positions.index("week1.ipynb", "other-new") == 4
    assert positions.index("week1.ipynb", "new-cell") == 3  # stable
    assert positions.index("elsewhere.ipynb", "a") == 0  # no file: first-seen order
