"""pytest plugin: a local AI Completions Proxy emulator as a fixture.

Installed with the package (``pytest11`` entry point ``completions_sdk``); disable it with
``-p no:completions_sdk``. It needs the ``emulator`` extra only when a test uses it:
importing this module imports neither Starlette nor uvicorn.

One emulator serves the whole session (started on first use, stopped at the end), and
``proxy_emulator`` resets it before each test: the configuration it started with, no
fault counts, no recorded requests. Nothing is put in the environment; pass the
fixture's ``url``, ``api_key`` and ``deployment`` to the client yourself:

```python
def test_hello(proxy_emulator):
    client = Client(
        api_key=proxy_emulator.api_key,
        deployment=proxy_emulator.deployment,
        base_url=proxy_emulator.url,
    )
    assert client.complete(model="m", prompt="Say hi").text
```

To serve another configuration, override ``proxy_emulator_config`` in a ``conftest.py``
(it is session-scoped, like the server it configures).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .emulator import EmulatorConfig, EmulatorServer

__all__ = ["proxy_emulator", "proxy_emulator_config"]


@pytest.fixture(scope="session")
def proxy_emulator_config() -> EmulatorConfig:
    """The session emulator's configuration; override this fixture to change it."""
    from .emulator import EmulatorConfig

    return EmulatorConfig()


@pytest.fixture(scope="session")
def _proxy_emulator_session(
    proxy_emulator_config: EmulatorConfig,
) -> Iterator[EmulatorServer]:
    """The session's one emulator, on a free loopback port."""
    from .emulator import EmulatorServer

    with EmulatorServer(proxy_emulator_config) as server:
        yield server


@pytest.fixture
def proxy_emulator(_proxy_emulator_session: EmulatorServer) -> EmulatorServer:
    """The running emulator, reset for this test.

    Offers ``url``, ``api_key``, ``deployment``, ``requests`` (API keys redacted),
    ``set_faults()``, ``set_guardrails()``, ``add_deployment()`` and ``reset()``.
    """
    _proxy_emulator_session.reset()
    return _proxy_emulator_session
