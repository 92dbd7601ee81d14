"""``examples/quickstart.ipynb`` runs from top to bottom against the emulator.

nbclient starts a real Jupyter kernel (ipykernel) that inherits the ``ENKRYPTAI_*``
variables pointing at the ``proxy_emulator`` fixture, executes every cell, and fails on
the first cell that raises. The outputs are then checked for what the notebook shows.

The kernel is this interpreter (the venv's, where the SDK is installed), from a kernel
spec written for the test: a ``python3`` kernel found in the user's or the system's
Jupyter paths could run another Python. Jupyter's and IPython's own directories are
moved under ``tmp_path``, so a developer's configuration neither changes the run nor is
written to, and kernel and client talk over Unix sockets, not TCP ports.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

from completions_sdk.emulator import EmulatorServer

NOTEBOOK = Path(__file__).parents[1] / "examples" / "quickstart.ipynb"
KERNEL = "completions-sdk-test"


def this_python_kernel(kernels: Path) -> KernelSpecManager:
    """A kernel spec manager that knows one kernel: ipykernel on ``sys.executable``."""
    spec = kernels / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel = {"argv": argv, "display_name": "completions-sdk tests", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel), encoding="utf-8")
    return KernelSpecManager(kernel_dirs=[str(kernels)], ensure_native_kernel=False)


def outputs_of(notebook: Any, marker: str) -> tuple[str, str]:
    """The stdout and the HTML output of the one code cell whose source contains ``marker``."""
    cells = [c for c in notebook.cells if c.cell_type == "code" and marker in c.source]
    assert len(cells) == 1, f"{len(cells)} cells contain {marker!r}"
    stdout, html = [], []
    for output in cells[0].outputs:
        if output.output_type == "stream" and output.name == "stdout":
            stdout.append(output.text)
        elif output.output_type in ("execute_result", "display_data"):
            html.append(output.data.get("text/html", ""))
    return "".join(stdout), "".join(html)


def test_the_committed_notebook_has_no_outputs() -> None:
    # Outputs hold ids, timestamps and ports that change each run: keep diffs to the code.
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert not cell.outputs, cell.source
            assert cell.execution_count is None, cell.source


def test_quickstart_notebook_runs(
    proxy_emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ENKRYPTAI_BASE_URL", proxy_emulator.url)
    monkeypatch.setenv("ENKRYPTAI_API_KEY", proxy_emulator.api_key)
    monkeypatch.setenv("ENKRYPTAI_DEPLOYMENT", proxy_emulator.deployment)
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")  # jupyter_core's future default
    for variable, folder in [
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("IPYTHONDIR", "ipython"),
    ]:
        monkeypatch.setenv(variable, str(tmp_path / folder))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    kernel = AsyncKernelManager(
        kernel_name=KERNEL,
        kernel_spec_manager=this_python_kernel(tmp_path / "kernels"),
        transport="ipc",  # Unix sockets in tmp_path
        ip=str(tmp_path / "kernel"),
    )
    assert kernel.kernel_spec is not None
    assert kernel.kernel_spec.argv[0] == sys.executable
    client = NotebookClient(notebook, km=kernel, timeout=30, startup_timeout=30)
    client.execute(cwd=str(tmp_path), cleanup_kc=True)  # then stop the kernel and its sockets

    proxy, _ = outputs_of(notebook, "emulator = None")
    assert proxy.strip() == f"proxy: {proxy_emulator.url}"  # the kernel used our emulator
    _, completion = outputs_of(notebook, 'prompt="Say hi", max_tokens=16')
    assert "<table>" in completion  # the reply renders as HTML, detections as a table
    replies, _ = outputs_of(notebook, "await asyncio.gather(")
    assert replies.count(" -> '") == 3
    story, _ = outputs_of(notebook, "for text in stream.text_stream:")
    assert "length prompt_tokens=" in story
    assert len(story.split()) > 40  # the 40 streamed words, printed as they arrived
    blocked, table = outputs_of(notebook, "except GuardrailViolation as error:")
    assert "flagged: ['input:injection_attack']" in blocked
    assert "injection_attack" in table
    rows, _ = outputs_of(notebook, "model_dump(exclude_none=True)")
    assert "injection_attack: {'safe':" in rows
    assert all(request.tags == ["notebook"] for request in proxy_emulator.requests)
    assert len(proxy_emulator.requests) == 6
