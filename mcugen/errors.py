"""The exception types that mean "the user's input is bad" or "a limit is not met".

The CLI prints either as a single line `mcugen: error: ...` and exits with status 2
(McugenError) or 4 (LimitError). Anything else that escapes is a bug in mcugen and is
reported as such.
"""


class McugenError(Exception):
    """Bad input: a missing or corrupt file, an unsupported model, a bad option."""


class LimitError(McugenError):
    """The model is fine but over a limit or under a gate the user set (--ram-limit,
    --flash-limit, --min-cosine): exit status 4, so CI can tell it from bad input."""


def escape(name: str, limit: int = 80) -> str:
    """An untrusted name (ONNX node or tensor) made safe to show on one line.

    Control characters and non-ASCII are escaped, so a hostile name cannot break the
    one-line error contract or inject terminal escapes; very long names are cut.
    """
    text = name.encode("unicode_escape").decode("ascii").replace("'", "\\'")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def quote(name: str, limit: int = 80) -> str:
    """escape(), in quotes, for messages."""
    return "'" + escape(name, limit) + "'"
