"""One exception tree: what a request can end with, each with its HTTP status and error code.

Services raise these; :mod:`moderation.web.errors` turns them into answers in one place.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ModerationError(Exception):
    """Base of the errors a request can end with."""

    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    message: str = "The request could not be processed."

    def __init__(self, message: str | None = None, **extra: Any) -> None:
        super().__init__(message or self.message)
        if message:
            self.message = message
        self.extra = extra
        # A form post's fields, so that its error page can show the form again as it was typed.
        self.values: dict[str, Any] = {}

    def body(self) -> dict[str, Any]:
        """The JSON body."""
        return {"error": self.code, "message": self.message, **self.extra}

    def headers(self) -> dict[str, str]:
        """Extra response headers."""
        return {}


class BadRequestError(ModerationError):
    """Malformed body, bad encoding."""


class UnsupportedMediaTypeError(ModerationError):
    """Neither a form post nor JSON."""

    status_code = 415
    code = "unsupported_media_type"
    message = "Send the comment as a form (application/x-www-form-urlencoded) or as JSON."


class ValidationFailedError(ModerationError):
    """One or more fields are invalid; ``errors`` lists every one."""

    status_code = 422
    code = "validation_error"
    message = "Some fields need your attention."

    def __init__(self, errors: list[dict[str, str]], values: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.errors = errors
        self.values = values or {}

    def body(self) -> dict[str, Any]:
        """``{"errors": [{"field", "code", "message"}]}``."""
        return {"error": self.code, "message": self.message, "errors": self.errors}


class UnauthorizedError(ModerationError):
    """Missing or wrong credentials."""

    status_code = 401
    code = "unauthorized"
    message = "A valid API key is required."

    def headers(self) -> dict[str, str]:
        """Ask for a bearer token."""
        return {"WWW-Authenticate": 'Bearer realm="moderation"'}


class ForbiddenError(ModerationError):
    """Signed in, but the role does not allow this."""

    status_code = 403
    code = "forbidden"
    message = "Your role does not allow this."


class ConflictError(ModerationError):
    """The item changed since it was loaded, or someone else holds or decided it."""

    status_code = 409
    code = "conflict"
    message = "This comment changed since you loaded it."


class NotFoundError(ModerationError):
    """No such resource."""

    status_code = 404
    code = "not_found"
    message = "Not found."


class DuplicateCommentError(ModerationError):
    """The same author already said this on this article."""

    status_code = 409
    code = "comment_duplicate"
    message = "Duplicate comment detected; it looks as though you've already said that!"


class FloodError(ModerationError):
    """Comments from one address or email too close together."""

    status_code = 429
    code = "comment_flood"
    message = "You are posting comments too quickly. Slow down."

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after=retry_after)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        """When to try again."""
        return {"Retry-After": str(self.retry_after)}


class ServiceUnavailableError(ModerationError):
    """A dependency (the database) failed or took too long: try again shortly."""

    status_code = 503
    code = "unavailable"
    message = "The service is briefly unavailable. Please try again in a few seconds."
    retry_after = 5

    def headers(self) -> dict[str, str]:
        """When to try again."""
        return {"Retry-After": str(self.retry_after)}


class DeadlineExceededError(ServiceUnavailableError):
    """A request ran past its deadline (a stalled dependency): answered 503, not left hanging."""
