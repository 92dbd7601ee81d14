"""The public surface: exports, sync/async parity, keyword types in step with the model."""

from __future__ import annotations

import inspect
import types
import typing

import pytest
from pydantic import BaseModel

import completions_sdk
from completions_sdk import (
    AsyncClient,
    ChatCompletionRequest,
    ChatFields,
    Client,
    CompletionFields,
    CompletionRequest,
)


def test_all_is_sorted_and_complete() -> None:
    exported = completions_sdk.__all__
    assert exported == sorted(exported, key=lambda name: (not name.isupper(), name))
    # (pytest rewrites asserts in plugin packages and adds "@py_*" names: not ours.)
    # (The pytest plugin completions_sdk.testing shows up as a submodule attribute.)
    public = {
        name
        for name, value in vars(completions_sdk).items()
        if not name.startswith(("_", "@")) and not isinstance(value, types.ModuleType)
    }
    assert public - {"annotations"} <= set(exported) | {"__version__"}
    for name in exported:
        assert hasattr(completions_sdk, name), name


def test_every_public_name_has_a_docstring() -> None:
    for name in completions_sdk.__all__:
        value = getattr(completions_sdk, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), name


def _public_methods(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in inspect.getmembers(cls)
        if not name.startswith("_") and callable(member)
    }


def test_sync_and_async_clients_match() -> None:
    sync, asynchronous = _public_methods(Client), _public_methods(AsyncClient)
    assert sync.keys() == asynchronous.keys()
    for name, signature in sync.items():
        assert signature.parameters == asynchronous[name].parameters, name
        if inspect.iscoroutinefunction(getattr(AsyncClient, name)):
            assert not inspect.iscoroutinefunction(getattr(Client, name))
    assert inspect.signature(Client.__init__) == inspect.signature(AsyncClient.__init__)


@pytest.mark.parametrize(
    ("fields", "model"),
    [(CompletionFields, CompletionRequest), (ChatFields, ChatCompletionRequest)],
)
def test_keyword_fields_match_the_request_model(fields: type, model: type[BaseModel]) -> None:
    typed = set(typing.get_type_hints(fields))
    # ``stream`` is chosen by the method (complete or stream), not passed.
    assert typed == set(model.model_fields) - {"stream"}


def test_version() -> None:
    assert completions_sdk.__version__.count(".") == 2
