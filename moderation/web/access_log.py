"""gunicorn's access log with every logged value made safe for a line-based log.

gunicorn writes the decoded path into the access log, so ``%0D%0A`` in a URL would start a
forged log line. Control characters (and backslashes, so the escaping cannot be faked) are
written as ``\\xNN`` instead. ``gunicorn.conf.py`` sets ``logger_class`` to :class:`SafeLogger`.
"""

from __future__ import annotations

import re
from typing import Any

from gunicorn.glogging import Logger

_UNSAFE_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\\]")


def _escape(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group()):02x}"


def escape(value: Any) -> Any:
    """A string with control characters and backslashes as ``\\xNN``; anything else as it is."""
    return _UNSAFE_RE.sub(_escape, value) if isinstance(value, str) else value


class SafeLogger(Logger):  # type: ignore[misc]
    """gunicorn's logger, escaping every access-log atom."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        """gunicorn's atoms, escaped."""
        return {
            key: escape(value)
            for key, value in super().atoms(resp, req, environ, request_time).items()
        }
