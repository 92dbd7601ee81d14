"""The ``completions-sdk`` command line (also ``python -m completions_sdk``).

``complete`` talks to the proxy named by ``ENKRYPTAI_BASE_URL`` / ``ENKRYPTAI_API_KEY``,
or, when neither is set, to the bundled emulator started on a free loopback port.
``emulator`` runs that emulator in the foreground. Errors are one line on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ._exceptions import CompletionsError, ConfigurationError
from ._version import __version__

if TYPE_CHECKING:
    from ._client import Client

__all__ = ["main"]

EXIT_OK, EXIT_API_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
DEFAULT_MODEL = "gpt-3.5-turbo-instruct"
_EMULATOR_HINT = "install the emulator with: pip install 'completions-sdk[emulator]'"


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
    complete.add_argument("prompt", help="the prompt text")
    complete.add_argument("--stream", action="store_true", help="print tokens as they arrive")
    complete.add_argument("--model", default=DEFAULT_MODEL, help=f"default: {DEFAULT_MODEL}")
    complete.add_argument("--max-tokens", type=int, default=None, metavar="N")
    complete.add_argument("--temperature", type=float, default=None, metavar="T")
    complete.add_argument("--seed", type=int, default=None)
    complete.add_argument("--deployment", default=None, help="default: ENKRYPTAI_DEPLOYMENT")
    complete.add_argument("--tags", default=None, help="comma-separated deployment tags")
    complete.add_argument("--json", action="store_true", help="print JSON (a line per chunk)")

    batch = commands.add_parser(
        "batch",
        help="complete every line of a JSONL file, resumable",
        description="Complete every request of a JSONL file (objects of request fields, or "
        "strings as prompts) into a JSONL file of results; a rerun skips lines already done.",
    )
    batch.add_argument("source", type=Path, help="the JSONL file of requests")
    batch.add_argument("--out", type=Path, required=True, help="the JSONL file of results")
    batch.add_argument("--model", default=DEFAULT_MODEL, help=f"default: {DEFAULT_MODEL}")
    batch.add_argument("--concurrency", type=int, default=8, metavar="N")
    batch.add_argument("--deployment", default=None, help="default: ENKRYPTAI_DEPLOYMENT")
    batch.add_argument("--tags", default=None, help="comma-separated deployment tags")

    emulator = commands.add_parser(
        "emulator", help="run the local proxy emulator in the foreground"
    )
    emulator.add_argument("--host", default="127.0.0.1")
    emulator.add_argument("--port", type=int, default=8080)
    emulator.add_argument("--config", default=None, metavar="FILE", help="a JSON config file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    arguments = _parser().parse_args(argv)
    try:
        if arguments.command == "emulator":
            return _run_emulator(arguments)
        if arguments.command == "batch":
            return _run_batch(arguments)
        return _run_complete(arguments, sys.stdout)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return EXIT_INTERRUPTED
    except (ConfigurationError, ImportError) as exc:
        _error(exc)
        return EXIT_USAGE
    except CompletionsError as exc:
        _error(exc)
        return EXIT_API_ERROR
    except ValueError as exc:  # pydantic's ValidationError: an invalid field
        _error(exc)
        return EXIT_USAGE


def _error(exc: BaseException) -> None:
    message = " ".join(str(exc).split())
    print(f"completions-sdk: {type(exc).__name__}: {message}", file=sys.stderr)


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


def _run_complete(arguments: argparse.Namespace, out: TextIO) -> int:
    fields: dict[str, Any] = {"model": arguments.model, "prompt": arguments.prompt}
    for name in ("max_tokens", "temperature", "seed"):
        if getattr(arguments, name) is not None:
            fields[name] = getattr(arguments, name)
    with _client(arguments) as client:
        if not arguments.stream:
            completion = client.complete(**fields)
            out.write(
                completion.model_dump_json(by_alias=True) if arguments.json else completion.text
            )
            out.write("\n")
            return EXIT_OK
        with client.stream(**fields) as stream:
            for chunk in stream:
                text = chunk.model_dump_json(by_alias=True) + "\n" if arguments.json else chunk.text
                out.write(text)
                out.flush()
        if not arguments.json:
            out.write("\n")
    return EXIT_OK


def _run_batch(arguments: argparse.Namespace) -> int:
    from ._cli_batch import run_batch

    with _client(arguments) as client:
        failures = run_batch(
            client,
            arguments.source,
            arguments.out,
            model=arguments.model,
            concurrency=arguments.concurrency,
        )
    return EXIT_API_ERROR if failures else EXIT_OK


@contextlib.contextmanager
def _client(arguments: argparse.Namespace) -> Iterator[Client]:
    from ._client import Client

    options: dict[str, Any] = {"tags": arguments.tags, "deployment": arguments.deployment}
    if os.environ.get("ENKRYPTAI_BASE_URL") or os.environ.get("ENKRYPTAI_API_KEY"):
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
