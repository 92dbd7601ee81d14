"""The pytest plugin, as a user's test session sees it (a fresh pytest in a subprocess)."""

from __future__ import annotations

import pytest

from completions_sdk.emulator import EmulatorServer

pytest_plugins = ["pytester"]


def test_the_fixture_is_reset_for_each_test(proxy_emulator: EmulatorServer) -> None:
    assert len(proxy_emulator.requests) == 0
    assert proxy_emulator.config.deployments[proxy_emulator.deployment].faults.is_empty
    proxy_emulator.set_faults("status=500")  # undone before the next test


USER_TESTS = """
import pytest
from completions_sdk import Client, RateLimitError

@pytest.fixture
def client(proxy_emulator):
    with Client(
        api_key=proxy_emulator.api_key,
        deployment=proxy_emulator.deployment,
        base_url=proxy_emulator.url,
        max_retries=0,
    ) as client:
        yield client

def test_complete(client, proxy_emulator):
    assert proxy_emulator.api_key == "user-key"
    assert client.complete(model="m", prompt="Say hi", max_tokens=3).text
    proxy_emulator.set_faults("status=429;retry_after=0")
    with pytest.raises(RateLimitError):
        client.complete(model="m", prompt="Say hi")

def test_each_test_starts_clean(client, proxy_emulator):
    assert len(proxy_emulator.requests) == 0
    assert client.complete(model="m", prompt="Say hi").text

def test_nothing_in_the_environment(proxy_emulator):
    import os
    assert not [name for name in os.environ if name.startswith("ENKRYPTAI_")]
"""

USER_CONFTEST = """
import pytest
from completions_sdk.emulator import Deployment, EmulatorConfig

@pytest.fixture(scope="session")
def proxy_emulator_config():
    return EmulatorConfig(api_keys=("user-key",), deployments={"user-deployment": Deployment()})
"""


def test_a_user_session(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ENKRYPTAI_API_KEY", "ENKRYPTAI_DEPLOYMENT", "ENKRYPTAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    pytester.makeini(
        "[pytest]\nfilterwarnings = error\nasyncio_default_fixture_loop_scope = function\n"
    )
    pytester.makeconftest(USER_CONFTEST)
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
