"""Chat through the proxy: a streamed reply, then a tool call answered and sent back.

Run it like examples/complete.py (ENKRYPTAI_* pointing at a proxy or the emulator).
"""

import json

from completions_sdk import ChatMessageParam, Client, ToolParam

WEATHER_TOOL: ToolParam = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string"}},
            "required": ["query"],
        },
    },
}


def get_weather(query: str) -> str:
    """A stand-in for a real lookup."""
    return json.dumps({"query": query, "forecast": "sunny", "celsius": 21})


def main() -> None:
    with Client() as client:
        # 1. A streamed answer, printed as it arrives.
        with client.stream_chat(
            model="gpt-4o-mini",
            messages=[
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "Name three colours."},
            ],
            max_tokens=12,
        ) as stream:
            for text in stream.text_stream:
                print(text, end="", flush=True)
            reply = stream.get_final_completion()
        print(f"\nfinish_reason={reply.choices[0].finish_reason}")

        # 2. The model asks for a tool; we run it and send its result back.
        messages: list[ChatMessageParam] = [
            {"role": "user", "content": "What is the weather in Paris?"}
        ]
        first = client.chat(
            model="gpt-4o-mini", messages=messages, tools=[WEATHER_TOOL], tool_choice="required"
        )
        call = first.tool_calls[0]
        print(f"tool call: {call.function and call.function.name}({call.parsed_arguments()})")
        message = first.choices[0].message
        assert message is not None
        messages.append(message.to_param())  # the reply, as the conversation goes on
        messages.append(
            {
                "role": "tool",
                "tool_call_id": call.id or "",
                "content": get_weather(**call.parsed_arguments()),
            }
        )
        answer = client.chat(model="gpt-4o-mini", messages=messages, max_tokens=12)
        print(f"answer: {answer.text.strip()}")


if __name__ == "__main__":
    main()
