"""Query-string parameters, checked: a bad one is a 422 that names it."""

from __future__ import annotations

from flask import request

from moderation.domain.errors import ValidationFailedError


def int_arg(name: str, default: int, low: int, high: int) -> int:
    """The integer ``name`` (``default`` when absent or empty).

    :raises ValidationFailedError: not a number (``invalid_number``), or outside
        ``low``..``high`` (``out_of_range``).
    """
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationFailedError(
            [{"field": name, "code": "invalid_number", "message": f"{name} must be a number."}]
        ) from None
    if not low <= value <= high:
        raise ValidationFailedError(
            [
                {
                    "field": name,
                    "code": "out_of_range",
                    "message": f"{name} must be between {low} and {high}.",
                }
            ]
        )
    return value
