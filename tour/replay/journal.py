"""Read what the journal kept: the result bytes of a ``ctx.run`` step, from ``sys_journal.entry_json``."""

import json
from typing import Any


def run_results(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Map each ``ctx.run`` step name to the value the journal stored for it.

    `rows` are ``SELECT * FROM sys_journal WHERE id = ...`` rows: a ``Command: Run`` entry
    names the step, a later ``Notification: Run`` entry with the same completion id holds its
    result as JSON bytes (``{"Success": [49, 48]}`` is ``10``).
    """
    names: dict[int, str] = {}
    results: dict[str, Any] = {}
    for row in sorted(rows, key=lambda r: int(r["index"])):
        entry = json.loads(row.get("entry_json") or "{}")
        command = entry.get("Command", {}).get("Run")
        if command is not None:
            names[command["completion_id"]] = command.get("name", "")
            continue
        completion = entry.get("Notification", {}).get("Completion", {}).get("Run")
        if completion is not None and "Success" in completion["result"]:
            name = names.get(completion["completion_id"], str(completion["completion_id"]))
            results[name] = json.loads(bytes(completion["result"]["Success"]))
    return results
