"""Rows in, rows out, for ``completions_sdk.ray``: no Ray and no I/O here.

A Ray Data batch (a dict of numpy arrays, a pandas frame or a pyarrow table) becomes a
pyarrow table; each row's request fields become a request; each outcome becomes the same
fixed columns, whether it succeeded or failed, so that every block of the output has one
schema and a Parquet write never meets a ``null``-typed column in one block and a string
one in the next.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._exceptions import APIStatusError, CompletionsError
from ._reply_base import ProxyBody
from ._request_base import RequestBase

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["OUTPUT_COLUMNS", "Outcome", "as_table", "request_of", "row_fields", "with_outcomes"]

Outcome = ProxyBody | CompletionsError | ValueError
"""A reply, the SDK's error for a failed call, or the validation error of a bad row."""

# Name -> pyarrow type name; the same for every row, success or failure.
OUTPUT_COLUMNS: dict[str, str] = {
    "text": "string",
    "finish_reason": "string",
    "prompt_tokens": "int64",
    "completion_tokens": "int64",
    "total_tokens": "int64",
    "request_id": "string",
    "policy_detections": "string",
    "error": "string",
}
_MESSAGE_LIMIT = 500  # an error row says what went wrong, it does not carry a whole body


def as_table(batch: Any) -> pa.Table:
    """The batch as a pyarrow table, whatever ``batch_format`` Ray handed it in."""
    import pyarrow as pa

    if isinstance(batch, pa.Table):
        return batch
    if isinstance(batch, Mapping):  # Ray's default (numpy) batch format
        return pa.table({name: _arrow(values) for name, values in batch.items()})
    return pa.Table.from_pandas(batch, preserve_index=False)


def _arrow(values: Any) -> pa.Array:
    import numpy as np
    import pyarrow as pa

    # A column of lists (token ids) comes as a 2-D array or an object array of arrays;
    # pyarrow converts a list of them, not the array itself.
    if isinstance(values, np.ndarray) and (values.ndim > 1 or values.dtype.kind in "OUS"):
        return pa.array([_plain(value) for value in values])
    return pa.array(values)


def row_fields(table: pa.Table, fields: frozenset[str]) -> list[dict[str, Any]]:
    """Each row's request fields that are set (a null or NaN cell is unset)."""
    names = [name for name in table.column_names if name in fields]
    columns = {name: table.column(name).to_pylist() for name in names}
    return [
        {name: _plain(columns[name][row]) for name in names if not _unset(columns[name][row])}
        for row in range(table.num_rows)
    ]


def _unset(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _plain(value: Any) -> Any:
    """Plain Python for a cell: numpy scalars and arrays, nested in lists or dicts too."""
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return _plain(value.tolist())
    if isinstance(value, float) and value.is_integer():
        # An int column with a missing cell comes as floats (pandas, numpy: NaN is a
        # float); the models take an int for a float field, not 3.0 for an int one.
        return int(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items() if not _unset(item)}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def request_of(
    model: type[RequestBase], defaults: Mapping[str, Any], fields: Mapping[str, Any]
) -> RequestBase:
    """The request a row asks for: its fields over ``defaults``; never streamed.

    Raises:
        ValueError: the fields do not make a valid request (pydantic's ValidationError).
    """
    return model(**{**defaults, **fields, "stream": None})


def with_outcomes(table: pa.Table, outcomes: list[Outcome]) -> pa.Table:
    """``table`` with the output columns of ``outcomes`` (one per row, in row order)."""
    import pyarrow as pa

    values = [_columns(outcome) for outcome in outcomes]
    for name, type_name in OUTPUT_COLUMNS.items():
        column = pa.array([row[name] for row in values], type=getattr(pa, type_name)())
        if name in table.column_names:  # a column of the input is overwritten, not doubled
            table = table.set_column(table.column_names.index(name), name, column)
        else:
            table = table.append_column(name, column)
    return table


def _columns(outcome: Outcome) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(OUTPUT_COLUMNS)
    if isinstance(outcome, ProxyBody):
        choice = outcome.choices[0] if getattr(outcome, "choices", None) else None  # type: ignore[attr-defined]
        row["text"] = outcome.text
        row["finish_reason"] = getattr(choice, "finish_reason", None)
        if outcome.usage is not None:
            row["prompt_tokens"] = outcome.usage.prompt_tokens
            row["completion_tokens"] = outcome.usage.completion_tokens
            row["total_tokens"] = outcome.usage.total_tokens
        row["request_id"] = getattr(outcome, "request_id", None)
        if outcome.policy_detections is not None:
            row["policy_detections"] = outcome.policy_detections.model_dump_json(
                by_alias=True, exclude_none=True
            )
        return row
    row["request_id"] = getattr(outcome, "request_id", None)
    row["error"] = error_json(outcome)
    return row


def error_json(error: BaseException) -> str:
    """A short JSON description: ``type``, ``status`` (or null) and ``message``.

    The SDK's errors never hold the API key (their message and response are scrubbed);
    a validation error says which fields were wrong, not the values.
    """
    if isinstance(error, CompletionsError):
        message = str(error)
    else:  # pydantic's ValidationError: the fields and reasons, without the input values
        errors = getattr(error, "errors", None)
        message = (
            "; ".join(
                f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}"
                for item in errors(include_url=False, include_input=False)
            )
            if callable(errors)
            else str(error)
        )
    status = error.status_code if isinstance(error, APIStatusError) else None
    return json.dumps(
        {"type": type(error).__name__, "status": status, "message": message[:_MESSAGE_LIMIT]}
    )
