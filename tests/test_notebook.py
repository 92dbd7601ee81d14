"""``examples/quickstart.ipynb`` runs from top to bottom against the emulator.

nbclient starts a real Jupyter kernel (ipykernel) that inherits the ``ENKRYPTAI_*``
variables pointing at the ``proxy_emulator`` fixture, executes every cell, and fails on
the first cell that raises. The outputs are then checked for what the notebook shows.

The notebook is saved executed, so that a viewer that does not run it (GitHub, a docs page)
shows its outputs; a fresh run must give outputs of the same shape (the same kinds, in the
same cells). After changing the notebook, save it again with
``python -m tests.test_notebook`` (it runs against an emulator the notebook starts itself).

The kernel is this interpreter (the venv's, where the SDK is installed), from a kernel
spec written for the test: a ``python3`` kernel found in the user's or the system's
Jupyter paths could run another Python. Jupyter's and IPython's own directories are
moved under ``tmp_path``, so a developer's configuration neither changes the run nor is
written to, and kernel and client talk over Unix sockets, not TCP ports.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
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


def shape(notebook: Any) -> list[tuple[str, list[tuple[str, ...]]]]:
    """Each cell's type and the kinds of its outputs: what a fresh run must reproduce.

    Not the values: ports, ids and timestamps change from run to run.
    """
    cells = []
    for cell in notebook.cells:
        kinds: list[tuple[str, ...]] = []
        for output in cell.get("outputs", []):
            if output.output_type == "stream":
                kinds.append(("stream", output.name))
            elif output.output_type in ("execute_result", "display_data"):
                kinds.append((output.output_type, *sorted(output.data)))
            else:
                kinds.append((output.output_type,))
        cells.append((cell.cell_type, kinds))
    return cells


def sandbox(folder: Path) -> dict[str, str]:
    """The variables that keep Jupyter and IPython's own files in ``folder``."""
    return {
        "JUPYTER_PLATFORM_DIRS": "1",  # jupyter_core's future default
        "JUPYTER_CONFIG_DIR": str(folder / "config"),
        "JUPYTER_DATA_DIR": str(folder / "data"),
        "JUPYTER_RUNTIME_DIR": str(folder / "runtime"),
        "IPYTHONDIR": str(folder / "ipython"),
    }


def execute(notebook: Any, folder: Path) -> None:
    """Run every cell of ``notebook`` in a kernel on this interpreter (``sandbox(folder)`` set)."""
    kernel = AsyncKernelManager(
        kernel_name=KERNEL,
        kernel_spec_manager=this_python_kernel(folder / "kernels"),
        transport="ipc",  # Unix sockets in folder
        ip=str(folder / "kernel"),
    )
    assert kernel.kernel_spec is not None
    assert kernel.kernel_spec.argv[0] == sys.executable
    client = NotebookClient(
        notebook,
        km=kernel,
        timeout=30,
        startup_timeout=30,
        record_timing=False,  # no timestamps in the saved file
        coalesce_streams=True,  # pieces printed with flush=True: one output, as saved
    )
    client.execute(cwd=str(folder), cleanup_kc=True)  # then stop the kernel and its sockets


def test_the_committed_notebook_is_saved_executed() -> None:
    # Saved without outputs, it showed as an empty notebook on GitHub.
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1))
    assert sum(bool(cell.outputs) for cell in code) == len(code) - 1  # all but the clean-up
    kinds = {output.output_type for cell in code for output in cell.outputs}
    assert kinds == {"stream", "execute_result"}  # and no error
    assert notebook.metadata.kernelspec.name == "python3"
    for cell in code:
        assert "execution" not in cell.metadata  # no timings to churn the diff


def test_quickstart_notebook_runs(
    proxy_emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ENKRYPTAI_BASE_URL", proxy_emulator.url)
    monkeypatch.setenv("ENKRYPTAI_API_KEY", proxy_emulator.api_key)
    monkeypatch.setenv("ENKRYPTAI_DEPLOYMENT", proxy_emulator.deployment)
    for variable, value in sandbox(tmp_path).items():
        monkeypatch.setenv(variable, value)
    saved = nbformat.read(NOTEBOOK, as_version=4)
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    execute(notebook, tmp_path)

    assert shape(notebook) == shape(saved)  # the saved outputs are what a run shows
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
    assert "<th>also reported</th>" in table  # most_unsafe_content, not under "count"
    rows, _ = outputs_of(notebook, "model_dump(exclude_none=True)")
    assert "injection_attack: {'safe':" in rows
    assert all(request.tags == ["notebook"] for request in proxy_emulator.requests)
    assert len(proxy_emulator.requests) == 6

    # The words are the emulator's, by prompt and seed: the saved run printed the same.
    for marker in ("print(repr(completion.text))", "await asyncio.gather("):
        assert outputs_of(notebook, marker)[0] == outputs_of(saved, marker)[0]


def save_executed() -> None:
    """Run the notebook against an emulator it starts itself, and save it with its outputs."""
    for variable in [name for name in os.environ if name.startswith("ENKRYPTAI_")]:
        del os.environ[variable]
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    kernelspec = notebook.metadata.kernelspec
    with tempfile.TemporaryDirectory() as folder:
        os.environ.update(sandbox(Path(folder)))
        execute(notebook, Path(folder))
    notebook.metadata.kernelspec = kernelspec  # the reader's python3, not the test kernel
    nbformat.validate(notebook)
    nbformat.write(notebook, NOTEBOOK)


if __name__ == "__main__":
    save_executed()
