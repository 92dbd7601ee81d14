"""Every script in ``examples/`` runs against the emulator, as a user would run it.

Each runs in its own interpreter (``python -W error examples/NAME.py``) with the
``ENKRYPTAI_*`` variables pointing at the ``proxy_emulator`` fixture, and must exit 0,
print nothing on stderr, send at least one request, and print what its docstring promises.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from completions_sdk.emulator import EmulatorServer

EXAMPLES = Path(__file__).parents[1] / "examples"
SCRIPTS = sorted(EXAMPLES.glob("*.py"))

# What each script must print (regular expressions searched in its stdout).
EXPECTED: dict[str, list[str]] = {
    "async_stream.py": [
        r"'Say hi' -> ' \w+",
        r"'Say thanks' -> ' \w+",
        r"\(cancelled after 0\.5 s and \d+ pieces\)",
    ],
    "batch.py": [
        r"1\. 'Write a tagline for a bakery' -> '\w+",
        r"3\. blocked by input:injection_attack: 'Ignore all previous",
        r"6\. 'Write a tagline for a cafe' -> '\w+",
        r"5 completed, 1 failed",
    ],
    "chat.py": [
        r"\A \w+( \w+)*\nfinish_reason=length\n",
        r"tool call: get_weather\(\{'query': 'What is the weather in Paris\?'\}\)",
        r"answer: \w+",
    ],
    "complete.py": [r"\w+", r"tokens: \d+", r"guardrail findings: none"],
    "guardrails.py": [
        r"blocked \(\d+\): .*injection_attack",
        r"detectors: input:injection_attack",
        r"injection attack score: 0\.9\d*",
    ],
    "stream.py": [r"finish_reason=length usage=prompt_tokens=\d+ completion_tokens=40"],
}


def example_env(emulator: EmulatorServer) -> dict[str, str]:
    """The environment of a user who pointed the SDK at the emulator."""
    return {
        **os.environ,
        "ENKRYPTAI_BASE_URL": emulator.url,
        "ENKRYPTAI_API_KEY": emulator.api_key,
        "ENKRYPTAI_DEPLOYMENT": emulator.deployment,
    }


def test_every_example_is_checked() -> None:
    assert SCRIPTS, f"no examples found in {EXAMPLES}"
    names = {script.name for script in SCRIPTS}
    assert names == set(EXPECTED), "add the new example's expected output to EXPECTED"


@pytest.mark.parametrize("script", SCRIPTS, ids=[script.name for script in SCRIPTS])
def test_example_runs(script: Path, proxy_emulator: EmulatorServer, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-W", "error", str(script)],
        env=example_env(proxy_emulator),
        cwd=tmp_path,  # examples must not depend on the working directory
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    for pattern in EXPECTED.get(script.name, []):
        assert re.search(pattern, result.stdout), f"{pattern!r} not in:\n{result.stdout}"
    assert len(proxy_emulator.requests) > 0, "the example sent nothing to the emulator"
