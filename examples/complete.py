"""A single completion, and what the proxy's guardrails found.

Run against the local emulator:
    completions-sdk emulator --port 8080 &
    export ENKRYPTAI_BASE_URL=http://127.0.0.1:8080 ENKRYPTAI_API_KEY=emulator-key \
           ENKRYPTAI_DEPLOYMENT=test-deployment-1
    python examples/complete.py
"""

from completions_sdk import Client


def main() -> None:
    with Client(tags=["examples"]) as client:  # key, deployment, URL from ENKRYPTAI_*
        completion = client.complete(
            model="gpt-3.5-turbo-instruct", prompt="Say hi", max_tokens=16, seed=7
        )
    print(completion.text)
    if completion.usage is not None:
        print(f"tokens: {completion.usage.total_tokens}")
    if completion.policy_detections is not None:
        print(f"guardrail findings: {completion.policy_detections.flagged or 'none'}")


if __name__ == "__main__":
    main()
