"""The ``completions-sdk`` command line (also ``python -m completions_sdk``).

``complete``, ``chat`` and ``batch`` talk to the proxy named by ``ENKRYPTAI_BASE_URL`` /
``ENKRYPTAI_API_KEY``, or, when neither is set, to the bundled emulator started on a free
loopback port. ``emulator`` runs that emulator in the foreground. Errors are one line on
stderr; with ``--json`` they are also one JSON object on stdout, so a script can read them.
A prompt or message of ``-`` is read from standard input.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ._config import DEFAULT_BASE_URL
from ._exceptions import (
    APIStatusError,
    CompletionsError,
    ConfigurationError,
    GuardrailViolation,
    IncompleteStreamError,
)
from ._version import __version__

if TYPE_CHECKING:
    from ._client import Client

__all__ = ["main"]

EXIT_OK, EXIT_API_ERROR, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 0, 1, 2, 130, 141
DEFAULT_MODEL = "gpt-3.5-turbo-instruct"
DEFAULT_CHAT_MODEL = "gpt-4o-mini"
_EMULATOR_HINT = (  # not on PyPI yet: by name only once it is published
    "install the emulator extra from a checkout: pip install '/path/to/completions-sdk[emulator]'"
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="completions-sdk",
        description="Talk to Enkrypt AI's AI Completions Proxy, or run a local emulator of it.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    complete = commands.add_parser(
        "complete",
        help="send one prompt and print the completion",
        description="Send one prompt and print the completion. Without ENKRYPTAI_BASE_URL "
        "or ENKRYPTAI_API_KEY, a local emulator is started and used.",
    )
    complete.add_argument("prompt", help="the prompt text ('-' reads it from standard input)")
    _add_call_arguments(complete, DEFAULT_MODEL)

    chat = commands.add_parser(
        "chat",
        help="send one user message and print the assistant's reply",
        description="Send one user message (after an optional system message) to the chat "
        "endpoint and print the reply. Without ENKRYPTAI_BASE_URL or ENKRYPTAI_API_KEY, a "
        "local emulator is started and used.",
    )
    chat.add_argument("message", help="the user message ('-' reads it from standard input)")
    chat.add_argument("--system", default=None, metavar="TEXT", help="a system message first")
    _add_call_arguments(chat, DEFAULT_CHAT_MODEL)

    _add_batch_command(commands)

    emulator = commands.add_parser(
        "emulator",
        help="run the local proxy emulator in the foreground",
        description="Serve a local emulator of the proxy (both endpoints) until Ctrl-C. "
        "Without --config it accepts the API key 'emulator-key' and the deployment "
        "'test-deployment-1'.",
    )
    emulator.add_argument("--host", default="127.0.0.1", help="default: 127.0.0.1")
    emulator.add_argument("--port", type=int, default=8080, help="0-65535 (default: 8080)")
    emulator.add_argument("--config", default=None, metavar="FILE", help="a JSON config file")
    return parser


def _add_batch_command(commands: Any) -> None:
    batch = commands.add_parser(
        "batch",
        help="send every line of a JSONL file, resumable",
        description="Send every request of a JSONL file (objects of request fields, or "
        "strings as prompts) and write one result row per line to a JSONL file; a rerun "
        "sends only the lines without a successful row (failed ones again).",
    )
    batch.add_argument("source", type=Path, help="the JSONL file of requests")
    batch.add_argument("--out", type=Path, help="the JSONL file of results (appended to)")
    batch.add_argument("--check", action="store_true", help="validate only; send nothing")
    batch.add_argument(
        "--endpoint",
        choices=("completions", "chat", "auto"),
        default="auto",
        help="where lines go; auto (default): a line with messages goes to chat",
    )
    batch.add_argument("--model", default=None, help="for lines that name none")
    batch.add_argument("--concurrency", type=int, default=8, metavar="N", help="default: 8")
    batch.add_argument("--max-retries", type=int, default=None, metavar="N")
    batch.add_argument("--rpm", type=float, default=None, help="requests per minute allowed")
    batch.add_argument("--tpm", type=float, default=None, help="tokens per minute allowed")
    batch.add_argument(
        "--adaptive",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="shrink and regrow concurrency on 429s (default: on)",
    )
    batch.add_argument("--progress", action="store_true", help="a progress line (on a TTY: always)")
    batch.add_argument("--deployment", default=None, help="default: ENKRYPTAI_DEPLOYMENT")
    batch.add_argument("--tags", default=None, help="comma-separated deployment tags")


def _add_call_arguments(command: argparse.ArgumentParser, default_model: str) -> None:
    command.add_argument("--stream", action="store_true", help="print tokens as they arrive")
    command.add_argument("--model", default=default_model, help=f"default: {default_model}")
    command.add_argument("--max-tokens", type=int, default=None, metavar="N")
    command.add_argument("--temperature", type=float, default=None, metavar="T")
    command.add_argument("--seed", type=int, default=None)
    command.add_argument("--deployment", default=None, help="default: ENKRYPTAI_DEPLOYMENT")
    command.add_argument("--tags", default=None, help="comma-separated deployment tags")
    command.add_argument(
        "--json",
        action="store_true",
        help='print JSON (a line per chunk); an error is printed as {"error": {...}} too',
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    arguments = _parser().parse_args(argv)
    try:
        if arguments.command == "emulator":
            return _run_emulator(arguments)
        if arguments.command == "batch":
            return _run_batch(arguments)
        return _run_call(arguments, sys.stdout)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (``| head``): stop quietly, as Unix tools do
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    # ImportError: an extra not installed; OSError: a file to read or write, or a port to
    # listen on; ValueError: pydantic's ValidationError, an invalid field.
    except (CompletionsError, ImportError, OSError, ValueError) as exc:
        _error(exc)
        if getattr(arguments, "json", False):
            # A script reading stdout gets the error (and a block's detections) as data.
            print(json.dumps({"error": _error_fields(exc)}, default=str), flush=True)
        api_error = isinstance(exc, CompletionsError) and not isinstance(exc, ConfigurationError)
        return EXIT_API_ERROR if api_error else EXIT_USAGE


def _silence_stdout() -> None:
    # Python would report the broken pipe again when it flushes stdout at exit.
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _error(exc: BaseException) -> None:
    print(f"completions-sdk: {type(exc).__name__}: {_one_line(exc)}", file=sys.stderr)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _error_fields(exc: BaseException) -> dict[str, Any]:
    """The ``--json`` form of an error: what ``except`` would see, as JSON values."""
    fields: dict[str, Any] = {"type": type(exc).__name__, "message": _one_line(exc)}
    if isinstance(exc, APIStatusError):
        fields["status_code"] = exc.status_code
        fields["error_type"] = exc.error_type
        fields["request_id"] = exc.request_id
        fields["body"] = exc.body  # redacted: a key echoed back is not in it
    if isinstance(exc, GuardrailViolation):
        fields["flagged"] = exc.detections.flagged
        fields["enkrypt_policy_detections"] = exc.detections.raw
    if isinstance(exc, IncompleteStreamError):
        fields["partial_text"] = exc.partial_text
    return fields


def _run_emulator(arguments: argparse.Namespace) -> int:
    emulator = _import_emulator()
    config = emulator.EmulatorConfig.from_file(arguments.config) if arguments.config else None
    emulator.serve(host=arguments.host, port=arguments.port, config=config)
    return EXIT_OK


def _import_emulator() -> Any:
    try:
        from . import emulator
    except ImportError as exc:
        raise ImportError(f"the emulator needs starlette and uvicorn ({_EMULATOR_HINT})") from exc
    return emulator


def _run_call(arguments: argparse.Namespace, out: TextIO) -> int:
    """``complete`` or ``chat``: one call, printed whole or as it streams."""
    fields: dict[str, Any] = {"model": arguments.model}
    if arguments.command == "chat":
        fields["messages"] = _chat_messages(arguments)
    else:
        fields["prompt"] = _text_argument(arguments.prompt)
    for name in ("max_tokens", "temperature", "seed"):
        if getattr(arguments, name) is not None:
            fields[name] = getattr(arguments, name)
    send: Callable[..., Any]
    open_stream: Callable[..., Any]
    with _client(arguments) as client:
        if arguments.command == "chat":
            send, open_stream = client.chat, client.stream_chat
        else:
            send, open_stream = client.complete, client.stream
        if not arguments.stream:
            reply = send(**fields)
            out.write(reply.model_dump_json(by_alias=True) if arguments.json else reply.text)
            out.write("\n")
            return EXIT_OK
        with open_stream(**fields) as stream:
            for chunk in stream:
                text = chunk.model_dump_json(by_alias=True) + "\n" if arguments.json else chunk.text
                out.write(text)
                out.flush()
        if not arguments.json:
            out.write("\n")
    return EXIT_OK


def _text_argument(text: str) -> str:
    """``text``, or standard input for ``-`` (without the line end ``echo`` adds)."""
    if text != "-":
        return text
    read = sys.stdin.read()
    read = read[:-1] if read.endswith("\n") else read
    if not read.strip():  # a call on nothing would still be a call (and billed)
        raise ConfigurationError(
            "nothing on standard input for '-': pipe the text in, or give it as an argument"
        )
    return read


def _chat_messages(arguments: argparse.Namespace) -> list[dict[str, str]]:
    messages = [{"role": "user", "content": _text_argument(arguments.message)}]
    if arguments.system is not None:
        messages.insert(0, {"role": "system", "content": arguments.system})
    return messages


def _run_batch(arguments: argparse.Namespace) -> int:
    from ._cli_batch import BatchUsageError, prepare_batch, rate_limit, send_batch, summary

    try:
        _check_batch_numbers(arguments)
        plan = prepare_batch(
            arguments.source, arguments.out, model=arguments.model, endpoint=arguments.endpoint
        )
        limit = rate_limit(arguments.rpm, arguments.tpm, arguments.adaptive)
    except BatchUsageError as exc:
        print("\n".join(exc.lines), file=sys.stderr)
        return EXIT_USAGE
    if arguments.check:
        print(summary(plan), file=sys.stderr)
        return EXIT_OK
    options = {} if arguments.max_retries is None else {"max_retries": arguments.max_retries}
    with _client(arguments, rate_limit=limit) as client:
        failures = send_batch(
            client,
            plan,
            concurrency=arguments.concurrency,
            options=options,
            live=arguments.progress or sys.stderr.isatty(),
        )
    return EXIT_API_ERROR if failures else EXIT_OK


def _check_batch_numbers(arguments: argparse.Namespace) -> None:
    from ._cli_batch import BatchUsageError

    problems = [
        f"completions-sdk: {flag} must be {rule}, got {value}"
        for flag, value, rule, ok in (
            ("--concurrency", arguments.concurrency, "at least 1", arguments.concurrency >= 1),
            (
                "--max-retries",
                arguments.max_retries,
                "0 or more",
                (arguments.max_retries or 0) >= 0,
            ),
            ("--rpm", arguments.rpm, "above 0", arguments.rpm is None or arguments.rpm > 0),
            ("--tpm", arguments.tpm, "above 0", arguments.tpm is None or arguments.tpm > 0),
        )
        if not ok
    ]
    if arguments.out is None and not arguments.check:
        problems.append("completions-sdk: --out FILE is required (unless --check)")
    if problems:
        raise BatchUsageError(problems)


@contextlib.contextmanager
def _client(arguments: argparse.Namespace, *, rate_limit: Any = None) -> Iterator[Client]:
    from ._client import Client

    options: dict[str, Any] = {"tags": arguments.tags, "deployment": arguments.deployment}
    if rate_limit is not None:  # only with --rpm, --tpm or --adaptive (RateLimit, issue 14)
        options["rate_limit"] = rate_limit
    if os.environ.get("ENKRYPTAI_BASE_URL") or os.environ.get("ENKRYPTAI_API_KEY"):
        _check_settings(arguments.deployment)
        with Client(**options) as client:
            yield client
        return
    emulator = _import_emulator()
    with emulator.EmulatorServer() as server:
        print(
            f"completions-sdk: no ENKRYPTAI_BASE_URL or ENKRYPTAI_API_KEY set; "
            f"using the local emulator at {server.url}",
            file=sys.stderr,
        )
        options["deployment"] = arguments.deployment or server.deployment
        with Client(api_key=server.api_key, base_url=server.url, **options) as client:
            yield client


def _check_settings(deployment: str | None) -> None:
    """Say, in shell terms and all at once, which settings a real proxy still needs.

    The client's own message (``pass api_key=...``) speaks to Python code, and names one
    missing setting at a time.
    """
    missing: list[tuple[str, str]] = []
    if not os.environ.get("ENKRYPTAI_API_KEY", "").strip():
        missing.append(("API key", "export ENKRYPTAI_API_KEY=YOUR_KEY"))
    if not (deployment or os.environ.get("ENKRYPTAI_DEPLOYMENT", "").strip()):
        missing.append(
            ("deployment", "export ENKRYPTAI_DEPLOYMENT=NAME (or pass --deployment NAME)")
        )
    if missing:
        names = " and no ".join(name for name, _ in missing)
        fixes = "; ".join(fix for _, fix in missing)
        base_url = os.environ.get("ENKRYPTAI_BASE_URL") or DEFAULT_BASE_URL
        raise ConfigurationError(
            f"No {names} for the proxy at {base_url}: {fixes}. To use a local emulator "
            "instead, unset ENKRYPTAI_BASE_URL and ENKRYPTAI_API_KEY"
        )
