"""Child processes of the runner: where they run, with which SDK, and the servers.

Every measuring process is a fresh ``python`` with the runner's environment, two changes
aside: bytecode is cached in a scratch directory (``PYTHONPYCACHEPREFIX``), and a side of an
SDK variant (``sdk-sync@NAME``) imports ``completions_sdk`` from that variant's directory
first. With two or more CPUs, servers run on the first and measured clients on the second.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = ["Machine", "SideFailed", "make_machine", "serving"]

SERVER = Path(__file__).resolve().parent / "server.py"
RUN_TIMEOUT = 900  # seconds for one measuring process; a stuck side fails the run


@dataclasses.dataclass(frozen=True)
class Machine:
    """Where measuring processes run: interpreter, environment and CPU pinning."""

    env: dict[str, str]
    cwd: str
    """A neutral working directory: ``python -c`` must not import a source tree's package."""
    server_cpu: int | None
    client_cpu: int | None
    variants: dict[str, str] = dataclasses.field(default_factory=dict)
    """SDK variant name -> the directory its ``completions_sdk`` is imported from."""

    def env_for(self, side: str) -> dict[str, str]:
        """The environment of a side: a ``@variant`` side imports its own SDK copy first."""
        _, _, variant = side.partition("@")
        if not variant:
            return self.env
        return _with_path(self.env, self.variants[variant])

    def pin(self, cpu: int | None) -> Callable[[], None] | None:
        """A ``preexec_fn`` pinning a child process to ``cpu`` (``None``: no pinning)."""
        if cpu is None:
            return None
        return lambda: os.sched_setaffinity(0, {cpu})

    def run(
        self, args: list[str], *, cpu: int | None, side: str = ""
    ) -> subprocess.CompletedProcess[str]:
        """Run a Python child with ``args`` (in ``side``'s environment) and wait for it."""
        return subprocess.run(
            [sys.executable, *args],
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            env=self.env_for(side),
            cwd=self.cwd,
            preexec_fn=self.pin(cpu),
            check=False,
        )


def _with_path(env: dict[str, str], directory: str) -> dict[str, str]:
    path = os.pathsep.join(filter(None, [directory, env.get("PYTHONPATH")]))
    return {**env, "PYTHONPATH": path}


def make_machine(
    sdk_path: str | None, variants: dict[str, str], pin: bool, scratch: str
) -> Machine:
    env = dict(os.environ)
    # Every side imports from cached bytecode, as after a pip install, and the cache lives
    # outside the source tree: an editable SDK without .pyc files would otherwise pay for
    # compiling itself at every import while its dependencies do not.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = os.path.join(scratch, "pycache")
    if sdk_path:
        env = _with_path(env, sdk_path)
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if pin and len(cpus) >= 2:
        return Machine(env, scratch, cpus[0], cpus[1], variants)
    return Machine(env, scratch, None, None, variants)


@contextlib.contextmanager
def serving(machine: Machine, delay_ms: float = 0, chunk_delay_ms: float = 0) -> Iterator[str]:
    """A server process for the duration of the block; yields its base URL."""
    server = subprocess.Popen(
        [
            sys.executable,
            str(SERVER),
            *("--delay-ms", str(delay_ms)),
            *("--chunk-delay-ms", str(chunk_delay_ms)),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=machine.env,
        cwd=machine.cwd,
        preexec_fn=machine.pin(machine.server_cpu),
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        yield f"http://127.0.0.1:{port}"
    finally:
        assert server.stdin is not None
        server.stdin.close()  # the server stops when its stdin closes
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


class SideFailed(RuntimeError):
    """A measuring process exited with an error."""
