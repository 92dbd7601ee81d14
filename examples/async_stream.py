"""Async: a completion, then tokens streamed with ``async for``, under a time limit.

Run it like examples/complete.py (ENKRYPTAI_* pointing at a proxy or the emulator).
"""

import asyncio

from completions_sdk import AsyncClient


async def print_story(client: AsyncClient) -> None:
    async with client.stream(model="gpt-3.5-turbo-instruct", prompt="Tell a story") as stream:
        async for chunk in stream:
            print(chunk.text, end="", flush=True)
    print()


async def main() -> None:
    async with AsyncClient() as client:
        completion = await client.complete(model="gpt-3.5-turbo-instruct", prompt="hi")
        print(completion.text)
        # Cancelling a stream (here by a time limit) closes its connection.
        try:
            await asyncio.wait_for(print_story(client), timeout=10)
        except asyncio.TimeoutError:
            print("\n(stopped after 10 s)")


if __name__ == "__main__":
    asyncio.run(main())
