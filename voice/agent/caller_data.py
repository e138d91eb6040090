"""Caller-controlled text (names, notes, car details, transcripts) as data for the model, never as prompt
text: one line, no control characters, capped, and in the prompt inside a marked block it calls data."""

import json
import unicodedata
from typing import Any

DATA_OPEN = "<caller_data>"
DATA_CLOSE = "</caller_data>"
FIELD_LIMIT = 120  # characters of one name, email, car description, ...
SPEECH_LIMIT = 1000  # characters of one caller turn
RESULT_LIMIT = 500  # characters of any one text in a tool result (the records' own fields are capped lower)


def clean(value: Any, limit: int = FIELD_LIMIT) -> str:
    """`value` as one line of plain text: control and format characters gone, whitespace runs (newlines
    included) one space, at most `limit` characters."""
    text = "" if value is None else str(value)
    text = "".join(" " if unicodedata.category(ch).startswith(("C", "Z")) else ch for ch in text)
    return " ".join(text.split())[:limit]


def clean_value(value: Any, limit: int = FIELD_LIMIT) -> Any:
    """A value for a data block or tool result: text cleaned, numbers and booleans as they are, lists and
    dicts cleaned inside."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict):
        return {clean(k): clean_value(v, limit) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_value(v, limit) for v in value]
    return clean(value, limit)


def data_block(fields: dict[str, Any]) -> str:
    """`fields` as a JSON object between the data markers; `<` and `>` escaped, so no value can close
    the block early."""
    payload = json.dumps(clean_value(fields), ensure_ascii=True, sort_keys=True)
    payload = payload.replace("<", "\\u003c").replace(">", "\\u003e")
    return f"{DATA_OPEN}\n{payload}\n{DATA_CLOSE}"
