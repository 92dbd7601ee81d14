"""Work done in another process (spawned: it imports this small module, nothing else)."""

from __future__ import annotations

from completions_sdk import Client


def complete_in_worker(client: Client, prompt: str) -> str:
    """What a Spark/Ray/multiprocessing worker does with a pickled client."""
    with client:
        return client.complete(model="m", prompt=prompt).text


def complete_or_raise(base_url: str, api_key: str) -> str:
    """A worker whose call fails: what it raises must reach the parent process intact."""
    with Client(api_key=api_key, deployment="d", base_url=base_url, max_retries=0) as client:
        return client.complete(model="m", prompt="in a worker").text
