"""One call in a process of its own, reporting its peak memory (for ``test_rel_memory.py``).

``python -m tests.reliability._memory_probe complete|stream URL [LIMITS_JSON]`` makes one
call to ``URL`` with a fresh ``Client`` and prints a JSON line: the outcome (the result's
class or the error's), the error message, the length of an error reply's body as kept,
the process's peak RSS before and after the call (MiB), and the call's seconds. A process
of its own, so that the peak is this call's and not the test runner's history.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from typing import Any

from completions_sdk import Client, CompletionsError, ResponseLimits

DEADLINE = 30.0
"""The call's deadline: a size limit must fail the call well before it."""


def _reset_peak() -> None:
    # A forked child starts with its parent's high-water mark (a pytest process that has
    # imported Ray and pyarrow: 300 MiB), which ru_maxrss keeps across exec. Writing 5 to
    # clear_refs resets the mark to this process's own (Linux 4.0+).
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        pass


def _peak_mib() -> float:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _call(client: Client, kind: str) -> str:
    if kind == "complete":
        return type(client.complete(model="m", prompt="p")).__name__
    with client.stream(model="m", prompt="p") as stream:
        for _ in stream:
            pass
        return type(stream.get_final_completion()).__name__


def main(kind: str, url: str, limits: dict[str, int]) -> dict[str, Any]:
    client = Client(
        api_key="sk-probe",
        deployment="d",
        base_url=url,
        max_retries=0,
        deadline=DEADLINE,
        response_limits=ResponseLimits(**limits),
    )
    _reset_peak()
    report: dict[str, Any] = {"baseline_mib": _peak_mib()}
    started = time.monotonic()
    try:
        report["outcome"] = _call(client, kind)
    except CompletionsError as exc:
        report["outcome"] = type(exc).__name__
        report["message"] = str(exc)
        response = getattr(exc, "response", None)
        if response is not None and getattr(exc, "status_code", None):
            report["error_body_bytes"] = len(response.content)
    finally:
        client.close()
    report["seconds"] = time.monotonic() - started
    report["peak_mib"] = _peak_mib()
    return report


if __name__ == "__main__":
    print(
        json.dumps(
            main(sys.argv[1], sys.argv[2], json.loads((sys.argv[3:] and sys.argv[3]) or "{}"))
        )
    )
