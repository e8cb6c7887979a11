"""Who is calling: moderators by API token (Bearer) or by the sign-in session cookie.

Session-authenticated writes must carry the CSRF token (header ``X-CSRFToken``); token
callers are not exposed to CSRF and skip that check.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import g, request, session
from flask_wtf.csrf import CSRFError, CSRFProtect

from moderation.domain.errors import ForbiddenError, UnauthorizedError
from moderation.domain.policy import Role
from moderation.services.moderators import moderator_for_token
from moderation.storage.tables import Moderator
from moderation.web.database import get_session
from moderation.web.security import bearer_token

csrf = CSRFProtect()
F = TypeVar("F", bound=Callable[..., Any])
_RANK = {Role.MODERATOR: 1, Role.ADMIN: 2}
SESSION_KEY = "moderator_id"
GENERATION_KEY = "moderator_generation"


def current_moderator() -> Moderator | None:
    """The moderator behind this request, if any (cached per request)."""
    if "moderator" in g:
        cached: Moderator | None = g.moderator
        return cached
    moderator = None
    g.auth_method = None
    if request.headers.get("Authorization"):
        token = bearer_token()
        if token is None:
            raise UnauthorizedError("Use 'Authorization: Bearer <token>'.")
        moderator = moderator_for_token(get_session(), token)
        if moderator is None:
            raise UnauthorizedError("This API token is not valid.")
        g.auth_method = "token"
    elif SESSION_KEY in session:
        found = get_session().get(Moderator, session[SESSION_KEY])
        if (
            found is not None
            and found.disabled_at is None
            and found.session_generation == session.get(GENERATION_KEY)
        ):
            moderator = found
            g.auth_method = "session"
    g.moderator = moderator
    return moderator


def require(role: Role) -> Callable[[F], F]:
    """Refuse anonymous callers (401) and callers below ``role`` (403)."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            moderator = current_moderator()
            if moderator is None:
                raise UnauthorizedError("Sign in or send a moderator API token.")
            if _RANK[moderator.role] < _RANK[role]:
                raise ForbiddenError()
            if g.auth_method == "session" and request.method not in ("GET", "HEAD", "OPTIONS"):
                try:
                    csrf.protect()
                except CSRFError as exc:
                    raise ForbiddenError(f"CSRF check failed: {exc.description}") from exc
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


def sign_in(moderator: Moderator) -> None:
    """Start a fresh sign-in session for ``moderator`` (of its current generation)."""
    session.clear()
    session[SESSION_KEY] = moderator.id
    session[GENERATION_KEY] = moderator.session_generation
