"""`make run`'s supervisor: everything starts, Ctrl-C stops everything, nothing is left behind."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

import psutil
import pytest
from pulse_dev import devstack as devstack_module
from pulse_dev.devstack import SERVICES
from pulse_dev.embedded import free_port

from tests.support.stack import devstack_env

pytestmark = pytest.mark.integration


def start_devstack(data_dir: Path, gateway_port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pulse_dev.devstack"],
        env=devstack_env(data_dir, gateway_port),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for_line(process: subprocess.Popen[str], text: str, seen: list[str]) -> None:
    assert process.stdout is not None
    deadline = time.monotonic() + 120
    for line in process.stdout:
        seen.append(line)
        if text in line:
            return
        assert time.monotonic() < deadline, "".join(seen[-40:])
    raise AssertionError("devstack ended early:\n" + "".join(seen[-40:]))


def printed_admin(seen: list[str]) -> tuple[str, str]:
    """The first admin's email and password as `make run` printed them."""
    for line in seen:
        if match := re.search(r"first admin: (\S+)  password: (\S+)", line):
            return match[1], match[2]
    raise AssertionError("no admin credentials printed:\n" + "".join(seen[-40:]))


def log_in(port: int, email: str, password: str) -> str:
    """An access token from the gateway, as the dashboard's login form gets one."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/auth/login",
        data=json.dumps({"email": email, "password": password}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as answer:
        return str(json.load(answer)["access_token"])


def cpu_history(port: int, token: str, start: str, end: str) -> list[dict[str, object]]:
    query = urllib.parse.urlencode({"type": "cpu", "from": start, "to": end})
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/metrics?{query}",
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request) as answer:
        series: list[dict[str, object]] = json.load(answer)["series"]
    return series


def first_cpu_point(port: int, token: str) -> dict[str, object]:
    """Waits for the generator's cpu series to reach the history (it publishes at 1 Hz)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        series = cpu_history(port, token, "2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z")
        if series:
            return series[0]
        time.sleep(0.5)
    raise AssertionError("no cpu point reached the history within 60 s")


def stop_with_ctrl_c(
    process: subprocess.Popen[str], seen: list[str], signum: int = signal.SIGINT
) -> str:
    """SIGINT (or ``signum``), then everything it printed; a run that does not stop fails with
    its own output."""
    process.send_signal(signum)
    try:
        rest, _ = process.communicate(timeout=150)
    except subprocess.TimeoutExpired:
        process.kill()
        rest, _ = process.communicate()
        output = "".join(seen) + rest
        pytest.fail(f"make run did not stop within 150 s of {signum!r}:\n{output[-6000:]}")
    return "".join(seen) + rest


def still_running(pids: list[int]) -> list[psutil.Process]:
    alive = []
    for pid in pids:
        try:
            alive.append(psutil.Process(pid))
        except psutil.NoSuchProcess:
            continue
    return [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def end_the_run(devstack: subprocess.Popen[str], data_dir: Path) -> None:
    """After a failed test: the supervisor and everything it recorded, so that no server is
    left behind holding ports (a later run of `make run` would clean them up, not a test)."""
    if devstack.poll() is None:
        devstack.kill()
        devstack.wait()
    pids = data_dir / "devstack.pids"
    if pids.exists():
        for process in still_running([entry["pid"] for entry in json.loads(pids.read_text())]):
            process.kill()


def test_starts_everything_and_ctrl_c_leaves_no_process_behind(tmp_path: Path) -> None:
    port = free_port()
    devstack = start_devstack(tmp_path / "data", port)
    seen: list[str] = []
    try:
        wait_for_line(devstack, f"Pulse is running: open http://127.0.0.1:{port}/", seen)
        children = [p.pid for p in psutil.Process(devstack.pid).children(recursive=True)]
        recorded = json.loads((tmp_path / "data" / "devstack.pids").read_text())
        assert len(recorded) == 2 + len(SERVICES)  # nats, postgres, every service
        assert sum("first admin: admin@pulse.local  password: " in line for line in seen) == 1
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/") as page:
            body = page.read()
        assert b'src="/assets/' in body, "not the built dashboard (make test builds it)"
        # A newcomer logs in with what was printed and sees the generator's cpu series.
        token = log_in(port, *printed_admin(seen))
        point = first_cpu_point(port, token)
        assert point["type"] == "cpu"
        assert 0 <= float(str(point["value"])) <= 100
        output = stop_with_ctrl_c(devstack, seen)
    finally:
        end_the_run(devstack, tmp_path / "data")
    assert devstack.returncode == 0, output[-3000:]
    assert "NATS stopped" in output
    all_pids = children + [entry["pid"] for entry in recorded]
    assert still_running(all_pids) == []


def test_a_killed_run_is_cleaned_up_by_the_next_one(tmp_path: Path) -> None:
    """Also: the data of the first run (accounts, stored points) is there in the second, which
    stops on SIGTERM as it would on Ctrl-C."""
    port = free_port()
    first = start_devstack(tmp_path / "data", port)
    seen: list[str] = []
    try:
        wait_for_line(first, "Pulse is running", seen)
        admin = printed_admin(seen)
        stored = first_cpu_point(port, log_in(port, *admin))
    except BaseException:
        end_the_run(first, tmp_path / "data")
        raise
    recorded = [e["pid"] for e in json.loads((tmp_path / "data" / "devstack.pids").read_text())]
    first.kill()  # no chance to stop its children
    first.wait()
    assert still_running(recorded) != []

    second = start_devstack(tmp_path / "data", port)
    seen = []
    try:
        wait_for_line(second, "Pulse is running", seen)
        assert sum("left over from an earlier run" in line for line in seen) == 2 + len(SERVICES)
        assert not any("password" in line for line in seen), "the password is shown only once"
        assert still_running(recorded) == []
        token = log_in(port, *admin)  # the account and the signing keys persisted
        moment = datetime.fromisoformat(str(stored["timestamp"]))
        kept = cpu_history(
            port, token, moment.isoformat(), (moment + timedelta(seconds=1)).isoformat()
        )
        assert stored in kept, "the first run's point is gone"
        output = stop_with_ctrl_c(second, seen, signal.SIGTERM)
    finally:
        end_the_run(second, tmp_path / "data")
        for process in still_running(recorded):  # a failed test must not leave servers behind
            process.kill()
    assert second.returncode == 0, output[-3000:]


def test_the_signal_handler_takes_no_lock_the_interrupted_thread_may_hold(tmp_path: Path) -> None:
    """Ctrl-C right after a printed line once hung `make run`: the handler printed, and the
    main thread it interrupted still held the output lock. Now it only records the request."""
    out = devstack_module._Output(color=False)
    stack = devstack_module.DevStack(
        devstack_module.DevStackSettings(data_dir=str(tmp_path)), {}, out
    )
    finished = threading.Event()

    def interrupted_while_printing() -> None:
        with out._lock:  # what the main thread holds while it writes a line
            stack.request_stop(signal.SIGINT, None)
        finished.set()

    worker = threading.Thread(target=interrupted_while_printing, daemon=True)
    worker.start()
    assert finished.wait(5), "the handler waited for a lock its own thread held"
    assert stack._stop.wait(0)
