"""Drive the classroom hub from a script, as learners would: REST for the hub, websockets for kernels.

Used by tests/test_hub.py and bench/classroom.py::

    hub = HubClient("http://127.0.0.1:8000", api_token)
    hub.create_user("ada")
    hub.start_server("ada")
    server = hub.server("ada")
    kernel = server.open_notebook("notebooks/00_getting_started.ipynb")
    kernel.execute("1 + 1").text          # '2'
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import websocket

from tourlab import poll


class HubError(RuntimeError):
    """The hub or a learner's server did not do what was asked."""


@dataclass
class Execution:
    """What one cell printed, returned and raised."""

    outputs: list[dict[str, Any]] = field(default_factory=list)
    error: dict[str, Any] | None = None

    @property
    def text(self) -> str:
        """Streams and ``text/plain`` results, joined (the way a notebook shows them)."""
        parts = []
        for out in self.outputs:
            if out["output_type"] == "stream":
                parts.append(out["text"])
            elif out["output_type"] in ("execute_result", "display_data"):
                parts.append(out["data"].get("text/plain", ""))
        return "".join(parts).strip()

    def printed_json(self) -> Any:
        """The JSON value the cell printed on its last line of stdout (warnings on stderr are ignored)."""
        self.raise_for_error()
        printed = "".join(
            out["text"] for out in self.outputs if out["output_type"] == "stream" and out["name"] == "stdout"
        )
        try:
            return json.loads(printed.strip().splitlines()[-1])
        except (IndexError, ValueError) as error:
            raise HubError(f"the cell printed no JSON on its last line; it showed: {self.text[:500]!r}") from error

    def raise_for_error(self, source: str = "") -> Execution:
        if self.error is not None:
            trace = "\n".join(self.error.get("traceback", []))
            raise HubError(f"{self.error['ename']}: {self.error['evalue']}\n{source}\n{trace}")
        return self


class RemoteKernel:
    """A kernel of a learner's server, over the Jupyter kernel websocket protocol (JSON messages)."""

    def __init__(self, server: LearnerServer, kernel_id: str, session_id: str | None = None) -> None:
        self.server = server
        self.kernel_id = kernel_id
        self.session_id = session_id
        self.client_session = uuid.uuid4().hex
        url = server.url(f"api/kernels/{kernel_id}/channels").replace("http", "ws", 1)
        # The server answers the handshake once the new kernel is up; with a whole class starting
        # kernels on a small machine that takes far longer than on an idle one.
        self.ws = websocket.create_connection(
            url, header=[f"Authorization: token {server.token}"], timeout=120, enable_multithread=True
        )

    def execute(self, code: str, timeout: float = 180.0) -> Execution:
        """Run code and wait until the kernel is idle again."""
        msg_id = uuid.uuid4().hex
        self.ws.send(json.dumps(self._message(msg_id, code)))
        result = Execution()
        idle = replied = False
        deadline = time.monotonic() + timeout
        while not (idle and replied):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise HubError(f"the kernel did not finish within {timeout:g} s: {code[:200]!r}")
            self.ws.settimeout(remaining)
            raw = self.ws.recv()
            if isinstance(raw, bytes):  # a message with binary buffers (widgets): not ours to read
                continue
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "status":
                idle = content["execution_state"] == "idle"
            elif kind == "execute_reply":
                replied = True
            elif kind in ("stream", "execute_result", "display_data"):
                result.outputs.append({"output_type": kind, **content})
            elif kind == "error":
                result.error = content
        return result

    def _message(self, msg_id: str, code: str) -> dict[str, Any]:
        return {
            "header": {
                "msg_id": msg_id,
                "msg_type": "execute_request",
                "username": self.server.user,
                "session": self.client_session,
                "version": "5.3",
                "date": datetime.now(UTC).isoformat(),
            },
            "parent_header": {},
            "metadata": {},
            "content": {
                "code": code,
                "silent": False,
                "store_history": True,
                "user_expressions": {},
                "allow_stdin": False,
                "stop_on_error": True,
            },
            "channel": "shell",
            "buffers": [],
        }

    def run_notebook(self, path: Path, skip_tags: frozenset[str] = frozenset({"nbval-skip"})) -> list[Execution]:
        """Run a notebook's code cells in order; a cell tagged ``raises-exception`` may fail."""
        results = []
        for cell in json.loads(path.read_text())["cells"]:
            tags = set(cell.get("metadata", {}).get("tags", []))
            if cell["cell_type"] != "code" or tags & skip_tags:
                continue
            source = "".join(cell["source"])
            done = self.execute(source)
            if "raises-exception" not in tags:
                done.raise_for_error(source)
            results.append(done)
        return results

    def shutdown(self) -> None:
        """Close the websocket and shut the kernel (and so its Restate) down."""
        try:
            self.ws.close()
        finally:
            if self.session_id:
                self.server.request("DELETE", f"api/sessions/{self.session_id}")
            else:
                self.server.request("DELETE", f"api/kernels/{self.kernel_id}")


class LearnerServer:
    """One learner's single-user server, reached through the hub's proxy."""

    def __init__(self, hub_url: str, user: str, token: str) -> None:
        self.hub_url = hub_url.rstrip("/")
        self.user = user
        self.token = token
        self.http = httpx.Client(headers={"Authorization": f"token {token}"}, timeout=60)

    def url(self, path: str) -> str:
        return f"{self.hub_url}/user/{quote(self.user)}/{path}"

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, self.url(path), **kwargs)
        if response.status_code >= 400:
            raise HubError(f"{method} {path} for {self.user}: {response.status_code} {response.text[:300]}")
        return response.json() if response.content else None

    def open_notebook(self, path: str) -> RemoteKernel:
        """Start a kernel for a notebook in the learner's folder (it runs in the notebook's folder)."""
        session = self.request(
            "POST", "api/sessions", json={"path": path, "type": "notebook", "name": "", "kernel": {"name": "python3"}}
        )
        return RemoteKernel(self, session["kernel"]["id"], session["id"])

    def kernels(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.request("GET", "api/kernels")
        return result

    def read_file(self, path: str) -> str:
        model = self.request("GET", f"api/contents/{path}", params={"content": "1", "type": "file", "format": "text"})
        return str(model["content"])

    def close(self) -> None:
        self.http.close()


class HubClient:
    """The hub's REST API with a token that may manage users (``<class>/api-token``)."""

    def __init__(self, hub_url: str, token: str) -> None:
        self.hub_url = hub_url.rstrip("/")
        self.http = httpx.Client(
            base_url=f"{self.hub_url}/hub/api", headers={"Authorization": f"token {token}"}, timeout=60
        )
        self._tokens: dict[str, str] = {}

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise HubError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response.json() if response.content else None

    def create_user(self, name: str, *, admin: bool = False) -> dict[str, Any]:
        """Create a user (or return the existing one)."""
        response = self.http.get(f"/users/{quote(name)}")
        if response.status_code == 200:
            existing: dict[str, Any] = response.json()
            return existing
        created: dict[str, Any] = self.request("POST", f"/users/{quote(name)}", json={"admin": admin})
        return created

    def user(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", f"/users/{quote(name)}")
        return result

    def users(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.request("GET", "/users")
        return result

    def token_for(self, name: str) -> str:
        """An API token of the user (made once per client), as the learner's browser session would have."""
        if name not in self._tokens:
            made = self.request(
                "POST", f"/users/{quote(name)}/tokens", json={"note": "tourlab script", "expires_in": 86400}
            )
            self._tokens[name] = made["token"]
        return self._tokens[name]

    def start_server(self, name: str, timeout: float = 240.0) -> float:
        """Start the user's server (if it is not running) and wait until it is ready; returns the seconds that took."""
        started = time.monotonic()
        if self.user(name).get("servers", {}).get(""):
            self.wait_ready(name, timeout)
            return 0.0
        self.request("POST", f"/users/{quote(name)}/server")
        self.wait_ready(name, timeout - (time.monotonic() - started))
        return time.monotonic() - started

    def wait_ready(self, name: str, timeout: float) -> dict[str, Any]:
        polled = poll(
            lambda: self.user(name).get("servers", {}).get(""),
            lambda server: server is None or bool(server.get("ready")),
            timeout=timeout,
            interval=0.25,
        )
        server: dict[str, Any] | None = polled.value
        if server is None:
            raise HubError(f"the server of {name} is not starting (did it fail? see the hub's log)")
        if not polled.ok:
            raise HubError(f"the server of {name} was not ready within {timeout:g} s: {server}")
        return server

    def stop_server(self, name: str, timeout: float = 60.0) -> None:
        """Stop the user's server and wait until it is gone."""
        response = self.http.delete(f"/users/{quote(name)}/server")
        if response.status_code not in (202, 204, 400):
            raise HubError(f"stopping {name}: {response.status_code} {response.text[:300]}")
        gone = poll(lambda: not self.user(name).get("servers", {}).get(""), timeout=timeout, interval=0.25)
        if not gone.ok:
            raise HubError(f"the server of {name} did not stop within {timeout:g} s")

    def server(self, name: str) -> LearnerServer:
        return LearnerServer(self.hub_url, name, self.token_for(name))

    @contextmanager
    def notebook(self, name: str, path: str) -> Iterator[RemoteKernel]:
        """A kernel for one of the learner's notebooks, shut down afterwards."""
        server = self.server(name)
        kernel = server.open_notebook(path)
        try:
            yield kernel
        finally:
            kernel.shutdown()
            server.close()

    def gradebook(self, what: str = "api/summary") -> httpx.Response:
        """A gradebook page (``api/summary``, ``gradebook.csv``, …), read with this client's token."""
        return self.http.get(f"{self.hub_url}/services/gradebook/{what}")

    def regrade(
        self, learners: list[str] | None = None, exercises: list[str] | None = None, timeout: float = 600.0
    ) -> dict[str, Any]:
        """Ask the gradebook to regrade (no names: every learner it lists) and wait until that job is done."""
        response = self.http.post(
            f"{self.hub_url}/services/gradebook/api/regrade",
            json={"learners": learners or [], "exercises": exercises or []},
        )
        if response.status_code != 202:
            raise HubError(f"regrade: {response.status_code} {response.text[:300]}")
        job_id = response.json()["id"]

        def finished() -> dict[str, Any] | None:
            status = self.gradebook("api/regrade").json()
            return next((job for job in status["finished"] if job["id"] == job_id), None)

        polled = poll(finished, timeout=timeout, interval=0.5)
        if not polled.ok or polled.value is None:
            raise HubError(f"the regrade did not finish within {timeout:g} s")
        job: dict[str, Any] = polled.value
        return job

    def close(self) -> None:
        self.http.close()
