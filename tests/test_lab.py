"""The Lab facade: reuse per kernel, restart, endpoint faults, clear errors and the CLI."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from support import eventually, invocation_of

from tourlab import InvocationError, InvocationTimeoutError, Lab, LabError
from tourlab._config import PROJECT_ROOT, cli_binary


def test_start_again_reuses_the_running_lab_and_loads_the_folder(lab: Lab):
    again = Lab.start("tour/part3")
    assert again is lab
    assert lab.loaded is not None
    assert lab.loaded.package == "tour.part3"
    assert Lab.current() is lab


@pytest.mark.parametrize("how", ["restarted", "killed"])
def test_restart_keeps_state_and_a_pending_timer(lab: Lab, unique, monkeypatch, how: str):
    # Also after SIGKILL: the lab's server skips fsync (tourlab/_config.py), and what it wrote is
    # kept by the operating system; chapter 03 says so.
    monkeypatch.setenv("TOUR_RESERVATION_SECONDS", "3")
    lab.load("tour/part3")
    cart, seat = unique("Mary"), unique("seat")
    assert lab.call("CartObject", cart, "addTicket", seat) is True
    expire_id = invocation_of(lab, f"CartObject/{cart}/expireTicket")
    server_pid = lab.runtime.pid
    assert server_pid is not None
    if how == "killed":
        os.kill(server_pid, signal.SIGKILL)
        assert eventually(lambda: not lab.runtime.running, timeout=10)

    lab.restart_server()

    assert lab.runtime.pid != server_pid
    assert lab.state("CartObject", cart) == {"tickets": [seat]}
    assert lab.state("TicketObject", seat) == {"status": "RESERVED"}
    assert lab.invocation(expire_id).status == "scheduled"
    lab.wait_for(expire_id, "completed", timeout=30)
    assert lab.state("CartObject", cart) == {"tickets": []}


def test_invocations_wait_while_the_endpoint_is_down(lab: Lab, unique):
    lab.load("tour/part3")
    cart = unique("Mary")
    lab.stop_endpoint()
    try:
        invocation_id = lab.send("CartObject", cart, "addTicket", unique("seat"))
        stuck = lab.wait_for(invocation_id, "backing-off", timeout=15)
        assert stuck.retry_count >= 1
    finally:
        lab.start_endpoint()
    lab.resume(invocation_id)
    assert lab.wait_for(invocation_id, "completed", timeout=15).completion_result == "success"
    assert len(lab.state("CartObject", cart)["tickets"]) == 1


def test_failing_handler_shows_retries_and_the_exception_text(lab: Lab, copy_part, unique):
    app = copy_part("part1")
    cart_module = app / "cart_object.py"
    cart_module.write_text(
        cart_module.read_text().replace(
            "    return await ctx.object_call(reserve, key=ticket_id, arg=None)\n",
            "    await ctx.object_call(reserve, key=ticket_id, arg=None)\n"
            '    raise RuntimeError("the handler failed after the call")\n',
        )
    )
    lab.load(app)
    invocation_id = lab.send("CartObject", unique("Mary"), "addTicket", "seat2B")

    failing = lab.wait_for(invocation_id, "backing-off", timeout=15)
    assert "the handler failed after the call" in (failing.last_failure or "")
    calls = [entry for entry in lab.journal(invocation_id) if entry.entry_type == "Command: Call"]
    assert len(calls) == 1  # reserve ran once; retries replay its journaled result

    cart_module.write_text(
        cart_module.read_text().replace(
            '    raise RuntimeError("the handler failed after the call")\n', "    return True\n"
        )
    )
    lab.reload()
    lab.resume(invocation_id)
    assert lab.wait_for(invocation_id, "completed", timeout=15).completion_result == "success"


def test_call_to_unknown_handler_says_what_restate_said(lab: Lab):
    lab.load("tour/part1")
    with pytest.raises(InvocationError, match="handler 'nope' was not found") as raised:
        lab.call("CartObject", "Mary", "nope", "x")
    assert raised.value.status_code == 404


def test_malformed_json_body_gets_a_readable_answer(lab: Lab):
    lab.load("tour/part1")
    response = httpx.post(
        f"{lab.ingress_url}/CartObject/Mary/addTicket",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 500
    assert "Unable to parse an input argument" in response.json()["message"]


def test_non_json_argument_is_rejected_before_sending(lab: Lab):
    with pytest.raises(LabError, match="must be JSON data"):
        lab.call("CartObject", "Mary", "addTicket", object())


def _failing_reserve(copy_part, error: str) -> Path:
    app = copy_part("part1")
    module = app / "ticket_object.py"
    module.write_text(
        module.read_text().replace(
            "async def reserve(ctx: ObjectContext) -> bool:\n",
            f"async def reserve(ctx: ObjectContext) -> bool:\n    raise {error}\n",
        )
    )
    return app


def _kill_what_blocks(lab: Lab, invocation_id: str | None) -> None:
    stuck = lab.why_stuck(invocation_id)
    assert stuck is not None
    lab.kill(stuck.culprit.id)
    with contextlib.suppress(LabError):  # killing the callee may already have ended the caller
        lab.kill(stuck.asked.id)


def test_a_call_blocked_by_a_failing_callee_says_which_at_once(lab: Lab, copy_part, unique):
    lab.load(_failing_reserve(copy_part, 'RuntimeError("always failing")'))
    cart, seat = unique("Mary"), unique("seat")

    with pytest.raises(InvocationError) as raised:
        lab.call("CartObject", cart, "addTicket", seat, timeout=60)

    message = str(raised.value)
    assert f"CartObject/{cart}/addTicket is waiting for a call to TicketObject/{seat}/reserve" in message
    assert "RuntimeError: always failing (ticket_object.py line" in message
    assert "lab.kill('inv_" in message
    assert not isinstance(raised.value, InvocationTimeoutError)  # it did not wait for the 60 s
    # A second call on the same cart waits for its turn behind the first: the message says so.
    with pytest.raises(InvocationError, match=f"waiting for its turn on CartObject/{cart}"):
        lab.call("CartObject", cart, "addTicket", unique("seat"), timeout=60)
    _kill_what_blocks(lab, raised.value.invocation_id)
    assert lab.wait_for(raised.value.invocation_id, timeout=15).completion_result == "failure"


def test_a_call_retrying_a_passing_failure_waits_then_says_why(lab: Lab, copy_part, unique):
    lab.load(_failing_reserve(copy_part, 'ConnectionError("seat map unreachable")'))
    cart, seat = unique("Mary"), unique("seat")

    with pytest.raises(InvocationTimeoutError) as raised:
        lab.call("CartObject", cart, "addTicket", seat, timeout=2.5)

    message = str(raised.value)
    assert "gave no answer within 2.5 s" in message
    assert "ConnectionError: seat map unreachable" in message
    _kill_what_blocks(lab, raised.value.invocation_id)


def test_a_handler_waiting_for_its_own_key_is_named_a_deadlock(lab: Lab, copy_part, unique):
    app = copy_part("part1")
    cart = app / "cart_object.py"
    cart.write_text(
        cart.read_text()
        + "\n\n@cart.handler()\nasync def recount(ctx: ObjectContext) -> bool:\n"
        + "    return await ctx.object_call(checkout, key=ctx.key(), arg=None)\n"
    )
    lab.load(app)
    user = unique("Mary")

    with pytest.raises(InvocationError, match="a deadlock, it can never finish") as raised:
        lab.call("CartObject", user, "recount", timeout=60)

    assert f"CartObject/{user}/recount" in str(raised.value)
    lab.kill(raised.value.invocation_id)
    assert lab.wait_for(raised.value.invocation_id, timeout=15).completion_result == "failure"


def test_the_endpoint_restarts_cleanly_under_an_invocation_in_flight(lab: Lab, unique):
    lab.load("tour/part5")
    order = unique("order")
    waiting = lab.send("CheckoutWorkflow", order, "run", {"user_id": unique("Ann"), "tickets": [unique("seat")]})
    lab.wait_for(waiting, "running", "suspended", timeout=10)  # it waits for the payment promise

    lab.stop_endpoint()
    lab.start_endpoint()

    # New invocations get through at once: no dead connection is left for Restate to reuse.
    assert lab.call("CartObject", unique("Mary"), "addTicket", unique("seat"), timeout=5) is True
    lab.kill(waiting)


def test_endpoint_port_in_use_is_a_clear_error(lab: Lab):
    port = lab.endpoint.port
    lab.stop_endpoint()
    squatter = socket.socket()
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the old socket may be in TIME_WAIT
    squatter.bind((lab.endpoint.bind_host, port))
    squatter.listen()
    try:
        with pytest.raises(LabError, match=f"Port {port} .* already in use"):
            lab.start_endpoint()
    finally:
        squatter.close()
        lab.start_endpoint()
    assert lab.endpoint.running


def test_cli_lists_invocations_and_reads_state(lab: Lab, unique):
    lab.load("tour/part3")
    cart, seat = unique("Mary"), unique("seat")
    lab.call("CartObject", cart, "addTicket", seat)

    listed = lab.cli("invocations", "list", "--all")
    assert f"CartObject/{cart}/addTicket" in listed

    state = lab.cli("kv", "get", "CartObject", cart)
    assert seat in state

    rows = lab.cli("sql", f"SELECT status FROM sys_invocation WHERE target = 'CartObject/{cart}/addTicket'")
    assert "completed" in rows


def test_shell_restate_command_reaches_the_kernels_server(lab: Lab, unique):
    # What `!restate ...` in a notebook does: a subshell with the kernel's environment.
    lab.load("tour/part3")
    cart = unique("Mary")
    lab.call("CartObject", cart, "addTicket", unique("seat"))
    done = subprocess.run(
        ["sh", "-c", f"restate invocations list --all | grep -q 'Target: *CartObject/{cart}/addTicket'"],
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert cli_binary() is not None


@pytest.mark.parametrize("part", ["part1", "part4"])
def test_each_part_runs_with_hypercorn_exactly_as_the_tour_says(part: str, unique):
    from tourlab._client import AdminIngressClient
    from tourlab._ports import free_port
    from tourlab._runtimes import EmbeddedRestate

    port = free_port()
    server = EmbeddedRestate()
    server.start()
    endpoint = subprocess.Popen(
        [sys.executable, "-m", "hypercorn", "-b", f"localhost:{port}", f"tour/{part}/app:app"],
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = AdminIngressClient(server.admin_url, server.ingress_url)
    try:
        _register_when_up(client, f"http://localhost:{port}")
        assert client.call("CartObject", "Mary", "addTicket", "seat2B") is True
    finally:
        client.close()
        endpoint.terminate()
        endpoint.wait()
        server.stop()


def test_learner_app_runs_with_the_hypercorn_config_file(unique):
    from tourlab._client import AdminIngressClient
    from tourlab._ports import free_port
    from tourlab._runtimes import EmbeddedRestate

    port = free_port()
    server = EmbeddedRestate()
    server.start()
    endpoint = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hypercorn",
            "--config",
            "hypercorn-config.toml",
            "-b",
            f"127.0.0.1:{port}",
            "tour/app/app:app",
        ],
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = AdminIngressClient(server.admin_url, server.ingress_url)
    try:
        answer = _register_when_up(client, f"http://127.0.0.1:{port}")
        assert {s["name"] for s in answer["services"]} == {"CartObject", "CheckoutService", "TicketObject"}
        assert client.call("CartObject", "Mary", "addTicket", "seat2B") is True  # the skeleton's stub
    finally:
        client.close()
        endpoint.terminate()
        endpoint.wait()
        server.stop()


def _register_when_up(client, uri: str, timeout: float = 20.0) -> dict:
    def attempt() -> dict | None:
        try:
            return client.register(uri)
        except LabError:
            return None

    answer = eventually(attempt, timeout, interval=0.1)
    assert answer is not None, f"{uri} could not be registered within {timeout:g} s"
    return answer


def test_kill_stops_a_retrying_invocation_for_good(lab: Lab, copy_part, unique):
    app = copy_part("part1")
    module = app / "ticket_object.py"
    module.write_text(
        module.read_text().replace(
            "async def reserve(ctx: ObjectContext) -> bool:\n",
            'async def reserve(ctx: ObjectContext) -> bool:\n    raise RuntimeError("never works")\n',
        )
    )
    lab.load(app)
    reserve_call = lab.send("TicketObject", unique("seat"), "reserve")
    lab.wait_for(reserve_call, "backing-off", timeout=15)

    lab.kill(reserve_call)

    killed = lab.wait_for(reserve_call, "completed", timeout=15)
    assert killed.completion_result == "failure"


def test_cancel_drops_a_delayed_call_before_it_runs(lab: Lab, unique):
    lab.load("tour/part3")
    cart, seat = unique("Mary"), unique("seat")
    assert lab.call("CartObject", cart, "addTicket", seat) is True
    later = lab.send("CartObject", cart, "expireTicket", seat, delay=60)
    assert lab.invocation(later).status == "scheduled"

    lab.cancel(later)

    assert eventually(lambda: lab.invocation(later) is None or lab.invocation(later).status == "completed")
    assert lab.state("CartObject", cart) == {"tickets": [seat]}  # expireTicket never ran
