"""``EmulatorServer``, ``EmulatorConfig`` and ``create_app``: lifecycle and run-time changes."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pydantic
import pytest

import completions_sdk.emulator
from completions_sdk.emulator import (
    Deployment,
    EmulatorConfig,
    EmulatorServer,
    Faults,
    create_app,
)

PATH = "/ai-proxy/completions"
CHAT_PATH = "/ai-proxy/chat/completions"
BODY = {"model": "m", "prompt": "hi", "max_tokens": 2}


def test_all_is_sorted_and_complete() -> None:
    names = completions_sdk.emulator.__all__
    assert names == sorted(names, key=lambda name: (not name.isupper(), name))
    # isidentifier() skips the names pytest's assertion rewriting adds to plugin packages.
    public = {
        name
        for name in dir(completions_sdk.emulator)
        if not name.startswith("_") and name.isidentifier()
    }
    assert public == set(names)


def test_start_is_fast_and_stop_ends_the_thread() -> None:
    started = time.monotonic()
    server = EmulatorServer().start()
    assert time.monotonic() - started < 1
    assert server.is_running
    url = server.url
    assert url.startswith("http://127.0.0.1:")
    thread_name = f"emulator-{url.rsplit(':', 1)[1]}"
    assert any(thread.name == thread_name for thread in threading.enumerate())
    assert httpx.post(server.completions_url, json=BODY, headers={"apikey": "x"}).status_code == 401
    assert server.chat_url == url + "/ai-proxy/chat/completions"
    assert httpx.post(server.chat_url, json=BODY, headers={"apikey": "x"}).status_code == 401
    server.stop()
    assert not server.is_running
    assert not any(thread.name == thread_name for thread in threading.enumerate())
    with pytest.raises(httpx.ConnectError):
        httpx.post(url + PATH, json=BODY)
    server.stop()  # stopping twice is harmless


def test_stop_does_not_wait_for_a_slow_stream() -> None:
    with EmulatorServer() as server:
        headers = {
            "apikey": server.api_key,
            "X-Enkrypt-Deployment": server.deployment,
            "X-Emulator-Fault": "token_delay=1",
        }
        with (
            httpx.Client() as client,
            client.stream(
                "POST", server.completions_url, json={**BODY, "stream": True}, headers=headers
            ) as response,
        ):
            assert response.status_code == 200
            started = time.monotonic()
            server.stop()
            assert time.monotonic() - started < 3
            with pytest.raises(httpx.RemoteProtocolError):
                response.read()


def test_the_server_refuses_other_hosts_and_a_second_start() -> None:
    with pytest.raises(ValueError, match="loopback"):
        EmulatorServer(host="0.0.0.0")
    server = EmulatorServer()
    with pytest.raises(RuntimeError, match="start"):
        _ = server.url
    with server, pytest.raises(RuntimeError, match="already"):
        server.start()


def test_localhost_is_served_on_127_0_0_1() -> None:
    with EmulatorServer(host="localhost") as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert "127.0.0.1" in repr(server)


def test_the_default_configuration() -> None:
    config = EmulatorConfig()
    assert config.api_keys == ("emulator-key",)
    assert list(config.deployments) == ["test-deployment-1"]
    assert config.find_deployment("elsewhere") is None
    assert EmulatorConfig(allow_any_deployment=True).find_deployment("elsewhere") == Deployment()


def test_any_deployment_when_allowed() -> None:
    with EmulatorServer(EmulatorConfig(allow_any_deployment=True)) as server:
        headers = {"apikey": server.api_key, "X-Enkrypt-Deployment": "whatever-name"}
        assert httpx.post(server.completions_url, json=BODY, headers=headers).is_success


def test_a_configuration_file(tmp_path: Path) -> None:
    path = tmp_path / "emulator.json"
    document = {
        "api_keys": ["k1", "k2"],
        "token_delay": 0.01,
        "deployments": {
            "d1": {"blocked_keywords": ["secret"], "faults": "status=429;times=1"},
            "d2": {"block_output": True, "faults": {"drop_after": 2}},
        },
    }
    path.write_text(json.dumps(document))
    config = EmulatorConfig.from_file(path)
    assert (config.api_key, config.deployment) == ("k1", "d1")
    assert config.deployments["d1"].faults == Faults(status=429, times=1)
    assert config.deployments["d2"].faults.drop_after == 2
    assert config.deployments["d1"].blocked_keywords == ("secret",)
    path.write_text(json.dumps({"deployments": {"d": {"faults": "status=42"}}}))
    with pytest.raises(pydantic.ValidationError, match="status"):
        EmulatorConfig.from_file(path)


@pytest.mark.parametrize(
    "document",
    [
        {"api_keys": []},
        {"api_keys": [" padded"]},
        {"deployments": {}},
        {"deployments": {"d": {"injection_patterns": ["(unclosed"]}}},
        {"deployments": {"d": {"blocked_keywords": [" "]}}},
        {"unknown_setting": 1},
    ],
)
def test_invalid_configurations_are_refused(document: dict[str, object]) -> None:
    with pytest.raises(pydantic.ValidationError):
        EmulatorConfig.model_validate(document)


def test_run_time_changes_are_checked_and_undone_by_reset(proxy_emulator: EmulatorServer) -> None:
    with pytest.raises(KeyError, match="add_deployment"):
        proxy_emulator.set_faults("status=500", deployment="nope")
    with pytest.raises(pydantic.ValidationError):
        proxy_emulator.set_guardrails(injection_patterns=["(unclosed"])
    with pytest.raises(ValueError, match="status"):
        proxy_emulator.set_faults("status=99")
    proxy_emulator.add_deployment("extra", Deployment(block_output=True))
    proxy_emulator.set_guardrails(blocked_keywords=["x"], block_output=True)
    changed = proxy_emulator.config
    assert changed.deployments[proxy_emulator.deployment].blocked_keywords == ("x",)
    assert "extra" in changed.deployments
    proxy_emulator.reset()
    assert proxy_emulator.config == EmulatorConfig()


def test_requests_can_be_read_while_the_server_records(proxy_emulator: EmulatorServer) -> None:
    headers = {"apikey": proxy_emulator.api_key, "X-Enkrypt-Deployment": proxy_emulator.deployment}

    def send() -> None:
        with httpx.Client(base_url=proxy_emulator.url, headers=headers) as client:
            for _ in range(10):
                client.post(PATH, json=BODY)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        assert all(request.path == PATH for request in proxy_emulator.requests)
    for thread in threads:
        thread.join()
    assert len(proxy_emulator.requests) == 40
    assert len(proxy_emulator.requests[:5]) == 5


async def test_create_app_serves_in_process() -> None:
    transport = httpx.ASGITransport(app=create_app())
    headers = {"apikey": "emulator-key", "X-Enkrypt-Deployment": "test-deployment-1"}
    async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as client:
        response = await client.post(PATH, json=BODY, headers=headers)
        messages = [{"role": "user", "content": "hi"}]
        chat = await client.post(CHAT_PATH, json={**BODY, "messages": messages}, headers=headers)
    assert response.status_code == chat.status_code == 200
    assert len(response.json()["choices"][0]["text"].split()) == 2
    assert chat.json()["choices"][0]["message"]["content"] == response.json()["choices"][0]["text"]


@pytest.mark.parametrize("module", ["completions_sdk", "completions_sdk.testing"])
def test_the_sdk_and_the_plugin_do_not_import_the_server(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('starlette', 'uvicorn'))\n"
        "print(heavy)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    assert result.stdout.strip() == "[]"
