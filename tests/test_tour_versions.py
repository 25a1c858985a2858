"""Versioning with live deployments (tour/versions): v1 and v2 on two endpoints of one real Restate."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import restate
from support import eventually, save_rows

from tourlab import Lab
from tourlab._client import AdminIngressClient
from tourlab._config import PROJECT_ROOT, cli_binary
from tourlab._endpoint import Endpoint
from tourlab._loader import load_app
from tourlab._runtimes import EmbeddedRestate

ORDER = {"user_id": "Mary", "tickets": ["seat1", "seat2"]}
V1_RECEIPT = {"version": "v1", "total": 80}
V2_RECEIPT = {"version": "v2", "total": 72}


class Admin:
    """The admin API and CLI of one Restate, plus endpoints serving v1 or v2."""

    def __init__(self, server: EmbeddedRestate) -> None:
        self.server = server
        self.client = AdminIngressClient(server.admin_url, server.ingress_url, timeout=20)
        self.http = self.client.http
        self.endpoints: list[Endpoint] = []

    def endpoint(self, version: str) -> Endpoint:
        endpoint = Endpoint()
        endpoint.start()
        endpoint.app.current = load_app(PROJECT_ROOT / "tour" / "versions" / version).app
        self.endpoints.append(endpoint)
        return endpoint

    def register(self, endpoint: Endpoint, *, force: bool | None = None) -> httpx.Response:
        body: dict[str, Any] = {"uri": f"http://127.0.0.1:{endpoint.port}"}
        if force is not None:
            body["force"] = force
        return self.http.post(f"{self.server.admin_url}/deployments", json=body)

    def send_checkout(self) -> str:
        return self.client.send("OrderService", None, "checkout", ORDER)

    def row(self, invocation_id: str) -> dict[str, Any]:
        return self.client.query(f"SELECT * FROM sys_invocation WHERE id = '{invocation_id}'")[0]

    def wait_until(self, invocation_id: str, **expected: Any) -> dict[str, Any]:
        def matches() -> dict[str, Any] | None:
            row = self.row(invocation_id)
            return row if all(row.get(k) == v for k, v in expected.items()) else None

        row = eventually(matches, timeout=30)
        assert row, f"{invocation_id} never had {expected}: {self.row(invocation_id)}"
        return row

    def output(self, invocation_id: str) -> Any:
        response = self.http.get(f"{self.server.ingress_url}/restate/invocation/{invocation_id}/output")
        assert response.status_code == 200, response.text
        return response.json()

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        cli = cli_binary()
        assert cli is not None
        env = {**os.environ, "RESTATE_ADMIN_URL": self.server.admin_url, "NO_COLOR": "1", "TERM": "dumb"}
        return subprocess.run([str(cli), *args], env=env, capture_output=True, text=True, timeout=30, check=False)

    def record_rows(self, name: str, case: str, invocation_id: str) -> None:
        """With TOURLAB_RECORD_ROWS=1, record the rows of an invocation (and the registry) as a fixture."""
        if os.environ.get("TOURLAB_RECORD_ROWS") == "1":
            save_rows(
                self.client.query,
                name,
                case,
                invocation_id,
                sys_deployment="SELECT * FROM sys_deployment ORDER BY created_at",
                sys_service="SELECT * FROM sys_service WHERE name = 'OrderService'",
            )

    def stop_endpoints(self) -> None:
        for endpoint in self.endpoints:
            endpoint.stop()
        self.endpoints.clear()


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedRestate]:
    running = EmbeddedRestate()
    running.start()
    yield running
    running.stop()


@pytest.fixture
def admin(server: EmbeddedRestate, monkeypatch: pytest.MonkeyPatch) -> Iterator[Admin]:
    # The endpoints run in this process and read the sleep at call time.
    monkeypatch.setenv("TOUR_SETTLE_SECONDS", "4")
    running = Admin(server)
    yield running
    running.stop_endpoints()
    running.client.close()


def test_v2_takes_new_invocations_while_a_sleeping_v1_checkout_finishes_on_v1(admin: Admin):
    v1_endpoint, v2_endpoint = admin.endpoint("v1"), admin.endpoint("v2")
    registered = admin.register(v1_endpoint)
    assert registered.status_code == 201
    v1 = registered.json()["id"]

    old = admin.send_checkout()
    asleep = admin.wait_until(old, status="suspended")
    assert asleep["pinned_deployment_id"] == v1
    admin.record_rows(
        "suspended",
        "OrderService/checkout (tour/versions/v1) suspended in ctx.sleep: inactivity_timeout=1s on the service",
        old,
    )

    registered = admin.register(v2_endpoint)  # a new URI: no force needed
    assert registered.status_code == 201
    v2 = registered.json()["id"]
    service = admin.http.get(f"{admin.server.admin_url}/services/OrderService").json()
    assert (service["deployment_id"], service["revision"]) == (v2, 2)
    still = admin.row(old)
    assert (still["status"], still["pinned_deployment_id"]) == ("suspended", v1)
    admin.record_rows(
        "pinned_old_deployment",
        "OrderService/checkout started on v1 and sleeps; v2 was registered at a second endpoint since: the "
        "invocation stays pinned to v1 (sys_service.deployment_id is v2)",
        old,
    )

    new = admin.send_checkout()
    assert admin.wait_until(new, status="suspended")["pinned_deployment_id"] == v2

    listed = admin.cli("deployments", "list", "--extra")
    assert listed.returncode == 0, listed.stderr
    rows = {line.split()[4]: line.split() for line in listed.stdout.splitlines()[1:] if line.strip()}
    assert rows[v1][2:4] == ["Draining", "1"]
    assert rows[v2][2:4] == ["Active", "1"]

    # The admin API only deletes with force; the CLI refuses to remove a deployment still draining.
    assert admin.http.delete(f"{admin.server.admin_url}/deployments/{v1}").status_code == 501
    refused = admin.cli("deployments", "remove", "--yes", v1)
    assert refused.returncode != 0
    assert "Deployment is still Draining. There are 1 invocations that will break" in refused.stderr

    admin.wait_until(old, status="completed")
    admin.wait_until(new, status="completed")
    assert admin.output(old) == V1_RECEIPT
    assert admin.output(new) == V2_RECEIPT
    assert admin.row(old)["pinned_deployment_id"] == v1

    described = admin.cli("deployments", "describe", v1)
    assert described.returncode == 0, described.stderr
    assert f"Revision: 1 [Latest 2 is in deployment ID {v2}]" in described.stdout
    removed = admin.cli("deployments", "remove", "--yes", v1)
    assert removed.returncode == 0, removed.stderr
    assert "The deployment is fully drained and is safe to remove" in removed.stdout
    assert f"Deployment {v1} removed successfully" in removed.stdout
    remaining = admin.http.get(f"{admin.server.admin_url}/deployments").json()["deployments"]
    assert v1 not in {d["id"] for d in remaining}
    assert v2 in {d["id"] for d in remaining}


def test_force_removing_a_pinned_deployment_strands_its_invocation_until_it_is_re_pinned(admin: Admin):
    v1_endpoint = admin.endpoint("v1")
    v1 = admin.register(v1_endpoint).json()["id"]
    old = admin.send_checkout()
    admin.wait_until(old, status="suspended")

    assert admin.http.delete(f"{admin.server.admin_url}/deployments/{v1}?force=true").status_code == 202
    stranded = admin.wait_until(old, last_failure_error_code="RT0011")
    assert stranded["status"] in ("backing-off", "running")
    assert stranded["last_failure"] == (
        "[500 Internal] the invocation has a deployment id associated, but it was not found in the registry. "
        "This might indicate that a deployment was forcefully removed from the registry, but there are still "
        "in-flight invocations pinned to it"
    )

    # Rescue: serve the same code again, then move the invocation there (only while paused or suspended).
    again = admin.register(admin.endpoint("v1")).json()["id"]
    resume = f"{admin.server.admin_url}/invocations/{old}/resume"
    refused = admin.http.patch(resume, params={"deployment": again})
    assert refused.status_code == 409
    assert "deployment id cannot be changed" in refused.json()["message"]
    assert admin.http.patch(f"{admin.server.admin_url}/invocations/{old}/pause").status_code == 202
    admin.wait_until(old, status="paused")
    assert admin.http.patch(resume, params={"deployment": again}).status_code == 200

    done = admin.wait_until(old, status="completed")
    assert done["pinned_deployment_id"] == again
    assert admin.output(old) == V1_RECEIPT


def test_hot_reload_under_a_sleeping_invocation_is_a_journal_mismatch_until_reverted(admin: Admin):
    endpoint = admin.endpoint("v1")
    deployment = admin.register(endpoint, force=True).json()["id"]
    old = admin.send_checkout()
    admin.wait_until(old, status="suspended")

    # The course's reload: same URI, new code, force. The deployment id stays; the code under it changed.
    endpoint.app.current = load_app(PROJECT_ROOT / "tour" / "versions" / "v2").app
    reloaded = admin.register(endpoint, force=True)
    assert reloaded.status_code == 200
    assert reloaded.json()["id"] == deployment
    # Without force it is accepted as well: the services' schema did not change.
    assert admin.register(endpoint).status_code == 200

    broken = admin.wait_until(old, last_failure_error_code="RT0016")
    assert broken["last_failure"].endswith(
        " - The previous execution ran and recorded the following: 'sleep' (index '2')\n"
        " - The current execution attempts to perform the following: 'run'"
    )
    assert (broken["last_failure_related_command_type"], broken["last_failure_related_command_name"]) == (
        "Run",
        "discount",
    )
    assert broken["pinned_deployment_id"] == deployment
    admin.record_rows(
        "hot_reload_mismatch",
        "OrderService/checkout suspended in ctx.sleep on v1; the same URI was re-registered (force) serving v2, "
        "which inserts a 'discount' run step before the sleep: RT0016 at wake-up",
        old,
    )

    endpoint.app.current = load_app(PROJECT_ROOT / "tour" / "versions" / "v1").app
    admin.client.resume(old)
    admin.wait_until(old, status="completed")
    assert admin.output(old) == V1_RECEIPT


def _strand_by_reload(admin: Admin, count: int) -> tuple[str, list[str]]:
    """`count` v1 checkouts asleep on one deployment whose code is then replaced by v2 (same URI, force): RT0016."""
    endpoint = admin.endpoint("v1")
    deployment = admin.register(endpoint, force=True).json()["id"]
    checkouts = [admin.send_checkout() for _ in range(count)]
    for checkout in checkouts:
        admin.wait_until(checkout, status="suspended")
    endpoint.app.current = load_app(PROJECT_ROOT / "tour" / "versions" / "v2").app
    assert admin.register(endpoint, force=True).json()["id"] == deployment
    for checkout in checkouts:
        admin.wait_until(checkout, last_failure_error_code="RT0016")
    return deployment, checkouts


def test_a_mismatched_invocation_is_moved_to_the_old_code_only_once_paused(admin: Admin):
    reloaded, (by_api, by_cli) = _strand_by_reload(admin, 2)
    spare = admin.register(admin.endpoint("v1")).json()["id"]  # a new URI: a new deployment
    api = f"{admin.server.admin_url}/invocations"

    refused = admin.http.patch(f"{api}/{by_api}/resume", params={"deployment": spare})
    assert refused.status_code == 409
    assert refused.json()["message"] == (
        f"The invocation '{by_api}' is still running or the deployment id is not pinned yet, "
        "deployment id cannot be changed."
    )
    assert admin.http.patch(f"{api}/{by_api}/pause").status_code == 202
    admin.wait_until(by_api, status="paused")
    assert admin.http.patch(f"{api}/{by_api}/pause").status_code == 200  # already paused
    assert admin.http.patch(f"{api}/{by_api}/resume", params={"deployment": spare}).status_code == 200
    assert admin.wait_until(by_api, status="completed")["pinned_deployment_id"] == spare
    assert admin.output(by_api) == V1_RECEIPT

    # The CLI answers [OK] to a resume with --deployment before the pause, and moves nothing.
    retries = admin.row(by_cli)["retry_count"]
    ignored = admin.cli("invocations", "resume", by_cli, "--deployment", spare, "--yes")
    assert ignored.returncode == 0, ignored.stderr
    assert "[OK]: Resumed 1 invocations" in ignored.stdout
    still = admin.wait_until(by_cli, status="backing-off", retry_count=retries + 1)
    assert (still["pinned_deployment_id"], still["last_failure_error_code"]) == (reloaded, "RT0016")
    paused = admin.cli("invocations", "pause", by_cli, "--yes")
    assert "[OK]: Paused 1 invocations" in paused.stdout, paused.stderr
    admin.wait_until(by_cli, status="paused")
    moved = admin.cli("invocations", "resume", by_cli, "--deployment", spare, "--yes")
    assert "[OK]: Resumed 1 invocations" in moved.stdout, moved.stderr
    assert admin.wait_until(by_cli, status="completed")["pinned_deployment_id"] == spare
    assert admin.output(by_cli) == V1_RECEIPT


def test_restart_as_new_keeps_a_journal_prefix_and_runs_the_rest_on_the_named_deployment(admin: Admin):
    reloaded, [stranded] = _strand_by_reload(admin, 1)
    admin.register(admin.endpoint("v1"))  # the latest deployment now serves v1 again
    api = f"{admin.server.admin_url}/invocations/{stranded}"

    refused = admin.http.patch(f"{api}/restart-as-new", params={"from": 1})
    assert refused.status_code == 409
    assert refused.json()["message"] == f"The invocation '{stranded}' is still running."
    assert admin.http.patch(f"{api}/kill").status_code == 200
    killed = admin.wait_until(stranded, status="completed")
    assert (killed["completion_result"], killed["completion_failure"]) == ("failure", "[409] killed")
    assert killed["journal_retention"] == "PT86400S"  # the journal of a killed invocation is kept a day

    restarted = admin.http.patch(f"{api}/restart-as-new", params={"from": 1, "deployment": reloaded})
    assert restarted.status_code == 200, restarted.text
    fresh = restarted.json()["new_invocation_id"]
    assert fresh != stranded
    assert admin.wait_until(fresh, status="completed")["pinned_deployment_id"] == reloaded
    assert admin.output(fresh) == V2_RECEIPT
    journal = admin.client.query(f"SELECT index, entry_type, name FROM sys_journal WHERE id = '{fresh}' ORDER BY index")
    assert [(e["entry_type"], e.get("name") or None) for e in journal[:4]] == [
        ("Command: Input", None),
        ("Command: Run", "price"),
        ("Notification: Run", None),
        ("Command: Run", "discount"),
    ]


def test_the_reference_rescue_finishes_a_checkout_stranded_by_a_force_deleted_deployment(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("TOUR_SETTLE_SECONDS", "3")
    from tour.versions.solution.rescue import rescue

    def order_service_deployments() -> tuple[set[str], str]:
        found = [d for d in lab.deployments() if "OrderService" in d.services]
        return {d.id for d in found}, next(d.id for d in found if d.latest)

    lab.load("tour/versions/v1")
    try:
        before = order_service_deployments()
        doomed = lab.deploy("tour/versions/v1")
        stranded = lab.send("OrderService", None, "checkout", ORDER)
        lab.wait_for(stranded, "suspended")
        deleted = httpx.delete(f"{lab.admin_url}/deployments/{doomed.id}", params={"force": "true"})
        assert deleted.status_code == 202
        assert order_service_deployments() == before  # the service is back on the deployment before it

        def stranded_failure() -> str:
            seen = lab.invocation(stranded)
            return (seen.last_failure or "") if seen else ""

        assert "not found in the registry" in eventually(
            lambda: "not found in the registry" in stranded_failure() and stranded_failure(), timeout=15
        )

        rescue(lab, stranded, "tour/versions/v1")

        assert lab.invocation(stranded).status == "completed"
        assert lab.output(stranded) == V1_RECEIPT
        assert order_service_deployments() == before
    finally:
        lab.load("tour/part1")


def test_registration_refuses_a_changed_service_type_but_not_removed_handlers(admin: Admin):
    assert admin.register(admin.endpoint("v1")).status_code == 201

    # v1's checkout, in a revision that no longer has it: accepted without any flag.
    fewer = admin.endpoint("v1")
    fewer.app.current = _only_seats_app()
    accepted = admin.register(fewer)
    assert accepted.status_code == 201, accepted.text
    assert [h["name"] for h in accepted.json()["services"][0]["handlers"]] == ["checkoutSeats"]

    keyed = admin.endpoint("keyed")
    refused = admin.register(keyed)
    assert refused.status_code == 409
    assert refused.json() == {
        "message": "[META0006] detected a new service revision for 'OrderService' changing the service type from "
        "previous revision. Service type cannot be changed across revisions.",
        "restate_code": "META0006",
    }
    body = {"uri": f"http://127.0.0.1:{keyed.port}", "breaking": True}
    assert admin.http.post(f"{admin.server.admin_url}/deployments", json=body).status_code == 201

    # The CLI does not remove the latest deployment of a service without --force, drained or not.
    latest = admin.http.get(f"{admin.server.admin_url}/services/OrderService").json()["deployment_id"]
    kept = admin.cli("deployments", "remove", "--yes", latest)
    assert kept.returncode != 0
    assert "Deployment is still Active." in kept.stderr
    assert admin.cli("deployments", "remove", "--force", "--yes", latest).returncode == 0


def _only_seats_app() -> Any:
    service = restate.Service("OrderService")

    @service.handler("checkoutSeats")
    async def checkout_seats(ctx: restate.Context, order: dict[str, Any]) -> dict[str, Any]:
        return {"version": "seats", "total": 0}

    return restate.app(services=[service])
