"""Async: completions side by side, then a stream cancelled when it runs too long.

Run it like examples/complete.py (ENKRYPTAI_* pointing at a proxy or the emulator).
"""

import asyncio

from completions_sdk import AsyncClient

MODEL = "gpt-3.5-turbo-instruct"


async def read_story(client: AsyncClient, received: list[str]) -> None:
    async with client.stream(model=MODEL, prompt="Tell a long story", max_tokens=500) as stream:
        async for text in stream.text_stream:
            received.append(text)
            print(text, end="", flush=True)
            await asyncio.sleep(0.01)  # a slow reader, like a UI rendering each piece


async def main() -> None:
    async with AsyncClient() as client:
        # Several requests at once: one connection pool, no threads.
        prompts = ["Say hi", "Say bye", "Say thanks"]
        completions = await asyncio.gather(
            *(client.complete(model=MODEL, prompt=prompt, max_tokens=5) for prompt in prompts)
        )
        for prompt, completion in zip(prompts, completions, strict=True):
            print(f"{prompt!r} -> {completion.text!r}")

        # Cancelling the task that reads a stream (here by a time limit) closes its
        # connection at once: nothing is left open or read in the background.
        received: list[str] = []
        try:
            await asyncio.wait_for(read_story(client, received), timeout=0.5)
        except asyncio.TimeoutError:
            print(f"\n(cancelled after 0.5 s and {len(received)} pieces)")
        else:
            print("\n(the story ended within 0.5 s)")


if __name__ == "__main__":
    asyncio.run(main())
