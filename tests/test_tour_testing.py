"""The copyable pytest fixture (tour/testing/restate_fixture.py) and the example tests it runs."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import restate
from restate import Context, RunOptions
from support import eventually

from tour.testing.restate_fixture import find_server, run_restate
from tourlab._config import PROJECT_ROOT, server_binary

EXAMPLES = "tour/testing/examples/test_shop.py"

greeter = restate.Service("Greeter")
_attempts: list[int] = []


@greeter.handler()
async def greet(ctx: Context, name: str) -> str:
    return f"Hello {name}!"


@greeter.handler("twoFaced")
async def two_faced(ctx: Context) -> str:
    # Takes a different step on each attempt: only a replay can tell.
    _attempts.append(1)
    step = "first" if len(_attempts) % 2 else "second"
    return await ctx.run_typed(step, lambda: step, RunOptions(type_hint=str))


greeter_app = restate.app(services=[greeter])


async def not_restate(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An ASGI app that is no Restate endpoint."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 404, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"nothing here"})


def restate_children() -> set[int]:
    """Process ids of the restate-servers this test process runs (other tests' labs included)."""
    found = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if "restate-server" in child.name():
                found.add(child.pid)
        except psutil.NoSuchProcess:
            continue
    return found


def port_open(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, int(port))) == 0


def test_the_fixture_serves_the_app_and_leaves_nothing_behind():
    before = restate_children()
    with run_restate(greeter_app) as env:
        answer = httpx.post(f"{env.ingress_url}/Greeter/greet", json="Mary", timeout=10)
        assert answer.json() == "Hello Mary!"
        assert restate_children() - before == {env.server_pid}
        services = httpx.get(f"{env.admin_url}/services", timeout=10).json()["services"]
        assert [s["name"] for s in services] == ["Greeter"]
        deployment = httpx.get(f"{env.admin_url}/deployments", timeout=10).json()["deployments"][0]
        endpoint = deployment["uri"].rstrip("/")
        assert port_open(endpoint)

    assert restate_children() - before == set()
    assert not psutil.pid_exists(env.server_pid)
    assert not port_open(env.ingress_url)
    assert not port_open(endpoint)


def test_the_fixture_replays_always_and_fails_fast():
    _attempts.clear()
    with run_restate(greeter_app) as env:
        answer = httpx.post(f"{env.ingress_url}/Greeter/twoFaced", timeout=10)
    assert answer.status_code == 570
    assert "Found a mismatch between the code paths" in answer.json()["message"]
    assert len(_attempts) == 2  # the first attempt and one replay, no retries


def test_a_failing_registration_says_why_and_stops_the_server():
    before = restate_children()
    refused = r"^Restate could not register http://127\.0\.0\.1:\d+ \(500\): "
    with pytest.raises(RuntimeError, match=refused) as failure, run_restate(not_restate):
        pass
    assert "[META0003] got status code '404'. Make sure the provided URI has the correct path" in str(failure.value)
    assert restate_children() - before == set()


def test_a_killed_test_process_leaves_no_server(tmp_path: Path):
    script = textwrap.dedent(
        """
        import time
        import restate
        from tour.testing.restate_fixture import run_restate

        with run_restate(restate.app(services=[restate.Service("Nothing")])) as env:
            print(env.server_pid, flush=True)
            time.sleep(600)
        """
    )
    test_process = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=PROJECT_ROOT,
        env={**os.environ, "TMPDIR": str(tmp_path)},  # the data folder a killed process cannot remove
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert test_process.stdout is not None
        server_pid = int(test_process.stdout.readline())
        assert psutil.Process(server_pid).name() == "restate-server"
        os.kill(test_process.pid, signal.SIGKILL)
        test_process.wait(10)
        assert eventually(lambda: not _alive(server_pid)), f"restate-server {server_pid} outlived its parent"
    finally:
        if test_process.poll() is None:
            test_process.kill()


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_find_server_takes_the_env_var_and_skips_the_npm_shim(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    native = server_binary()
    assert native is not None
    monkeypatch.setenv("RESTATE_SERVER_BIN", str(native))
    assert find_server() == str(native)

    monkeypatch.delenv("RESTATE_SERVER_BIN")
    monkeypatch.setenv("PATH", f"{PROJECT_ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.chdir(PROJECT_ROOT / "tour")
    found = find_server()
    assert Path(found).resolve() == native.resolve()

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RuntimeError, match="restate-server not found"):
        find_server()


def _run_examples(app: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SHOP_APP": app}
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:nbval", "-q", "-n0", EXAMPLES]
    return subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)


def test_the_example_tests_pass_against_the_reference_shop():
    done = _run_examples("tour.testing.shop.app")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "7 passed" in done.stdout


@pytest.mark.parametrize(
    ("app", "caught_by"),
    [
        ("tour.testing.buggy_sold_on_decline.app", "test_a_declined_card_keeps_the_cart_and_the_reservations"),
        ("tour.testing.buggy_double_booking.app", "test_a_reserved_seat_cannot_go_into_another_cart"),
    ],
)
def test_the_example_tests_catch_each_planted_bug(app: str, caught_by: str):
    done = _run_examples(app)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"FAILED {EXAMPLES}::{caught_by}" in done.stdout
    assert "1 failed, 6 passed" in done.stdout


BOOKING_TESTS = "tour/testing/solution/test_booking.py"


def _run_booking_tests(app: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SHOP_APP": app, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    command = [sys.executable, "-m", "pytest", "-p", "anyio", "-p", "no:cacheprovider", "-o", "addopts=", "-q"]
    return subprocess.run(
        [*command, BOOKING_TESTS], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_the_booking_tests_pass_against_the_reference_saga():
    done = _run_booking_tests("tour.testing.shop.app")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout


@pytest.mark.parametrize(
    "app", ["tour.testing.buggy_refund_outside_the_journal.app", "tour.testing.buggy_seats_kept_after_refund.app"]
)
def test_only_the_failure_after_the_charge_catches_each_saga_bug(app: str):
    done = _run_booking_tests(app)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"FAILED {BOOKING_TESTS}::test_a_failure_after_the_charge_is_undone" in done.stdout
    assert "1 failed, 2 passed" in done.stdout


def test_a_refund_outside_the_journal_is_paid_again_only_when_the_server_replays():
    from tour.testing import mail, payments
    from tour.testing.buggy_refund_outside_the_journal.app import app

    refunded = {}
    for inactivity in ("1min", "0s"):  # Restate's default, then always replay (the fixture's setting)
        with run_restate(app, extra_env={"RESTATE_WORKER__INVOKER__INACTIVITY_TIMEOUT": inactivity}) as env:
            user = f"Cid-{inactivity}"
            mail.bounce_mails_of(user)
            order = {"user_id": user, "tickets": [f"{user}-seat1", f"{user}-seat2"]}
            answer = httpx.post(f"{env.ingress_url}/BookingService/book", json=order, timeout=30)
            assert answer.status_code == 422, answer.text
            refunded[inactivity] = payments.amounts_refunded(user)

    assert refunded["1min"] == [80]  # no suspension, no replay: the bug hides
    assert len(refunded["0s"]) > 1  # each replay after the refund pays it again
