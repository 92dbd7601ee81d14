"""Print a completion as it is generated, then the assembled result.

Run it like examples/complete.py (ENKRYPTAI_* pointing at a proxy or the emulator).
"""

from completions_sdk import Client


def main() -> None:
    with (
        Client() as client,
        client.stream(
            model="gpt-3.5-turbo-instruct",
            prompt="Tell a short story",
            max_tokens=40,
            stream_options={"include_usage": True},
        ) as stream,
    ):
        for text in stream.text_stream:
            print(text, end="", flush=True)
        completion = stream.get_final_completion()
    print()
    print(f"finish_reason={completion.choices[0].finish_reason} usage={completion.usage}")


if __name__ == "__main__":
    main()
