"""Work done in another process (spawned: it imports this small module, nothing else)."""

from __future__ import annotations

from completions_sdk import Client


def complete_in_worker(client: Client, prompt: str) -> str:
    """What a Spark/Ray/multiprocessing worker does with a pickled client."""
    with client:
        return client.complete(model="m", prompt=prompt).text
