"""Wire formats (pydantic v2): the comment a form or a backend posts, and error bodies.

Validation happens here, once. Every failure carries a stable code and a human message, the
way WordPress words them, and every bad field is reported at once.
"""

from __future__ import annotations

import re
from typing import Any

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)
from pydantic_core import PydanticCustomError

# Line breaks and tabs are fine in a comment; other control characters (NUL included) are not.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_LINE_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_ARTICLE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$")

NAME_MAX = 245
EMAIL_MAX = 100
URL_MAX = 200
_URL_RE = re.compile(r"^https?://[^\s/?#]+\.[^\s/?#]+(?:[/?#]\S*)?$", re.IGNORECASE)


def _error(code: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(code, message)


def _text(value: Any, *, code: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _error(f"invalid_{code}", "This field must be text.")
    text = str(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a JSON \ud800-style escape
        raise _error(
            "invalid_unicode", "This field contains characters that are not valid text."
        ) from None
    return text


class CommentIn(BaseModel):
    """A comment as the reply form (WordPress field names) or a backend (aliases) posts it."""

    model_config = ConfigDict(extra="ignore", validate_default=True)

    content: str = Field(default="", validation_alias=AliasChoices("comment", "content", "text"))
    author: str = Field(default="", validation_alias=AliasChoices("author", "name"))
    email: str = Field(default="", validation_alias=AliasChoices("email", "author_email"))
    url: str = Field(default="", validation_alias=AliasChoices("url", "website", "author_url"))
    article_id: str = Field(
        default="",
        validation_alias=AliasChoices("comment_post_ID", "article_id", "post_id", "article"),
    )
    parent_id: int | None = Field(
        default=None, validation_alias=AliasChoices("comment_parent", "parent_id", "parent")
    )
    redirect_to: str = ""
    cookies_consent: bool = Field(
        default=False, validation_alias=AliasChoices("wp-comment-cookies-consent", "remember")
    )
    # Forwarded by an authenticated site backend; ignored from anyone else.
    verified_author: bool = False  # the site vouches: a signed-in user of the site wrote it
    user_ip: str = Field(default="", validation_alias=AliasChoices("user_ip", "ip"))
    user_agent: str = ""
    referrer: str = Field(default="", validation_alias=AliasChoices("referrer", "referer"))

    @field_validator("content", mode="before")
    @classmethod
    def _content(cls, value: Any) -> str:
        text = _text(value, code="comment")
        if not text.strip():
            raise _error("require_valid_comment", "Please enter your comment!")
        if _CONTROL_RE.search(text):
            raise _error(
                "comment_invalid_characters",
                "Your comment contains control characters that cannot be stored.",
            )
        if len(text.encode("utf-8")) > 65525:
            raise _error("comment_too_long", "Your comment is too long.")
        return text

    @field_validator("author", mode="before")
    @classmethod
    def _author(cls, value: Any) -> str:
        text = _text(value, code="name").strip()
        if not text:
            raise _error("require_name", "Please enter your name here")
        if _LINE_CONTROL_RE.search(text):
            raise _error(
                "name_invalid_characters", "Your name contains characters that are not allowed."
            )
        if len(text) > NAME_MAX:
            raise _error(
                "comment_author_column_length",
                f"Your name is too long (at most {NAME_MAX} characters).",
            )
        return text

    @field_validator("email", mode="before")
    @classmethod
    def _email(cls, value: Any) -> str:
        text = _text(value, code="email").strip()
        if not text:
            raise _error("require_valid_email", "You have entered an incorrect email address!")
        if len(text) > EMAIL_MAX:
            raise _error(
                "comment_author_email_column_length",
                f"Your email address is too long (at most {EMAIL_MAX} characters).",
            )
        if _LINE_CONTROL_RE.search(text):
            raise _error("require_valid_email", "You have entered an incorrect email address!")
        try:
            validate_email(text, check_deliverability=False)
        except EmailNotValidError:
            raise _error(
                "require_valid_email", "You have entered an incorrect email address!"
            ) from None
        # One address, one identity: flood, trust and block checks compare it as lower case.
        return text.lower()

    @field_validator("url", mode="before")
    @classmethod
    def _url(cls, value: Any) -> str:
        text = _text(value, code="url").strip()
        if not text:
            return ""
        if len(text) > URL_MAX:
            raise _error(
                "comment_author_url_column_length",
                f"Your website address is too long (at most {URL_MAX} characters).",
            )
        if _LINE_CONTROL_RE.search(text) or not _URL_RE.match(text):
            raise _error(
                "invalid_url", "Please enter a website address starting with http:// or https://."
            )
        return text

    @field_validator("article_id", mode="before")
    @classmethod
    def _article(cls, value: Any) -> str:
        text = _text(value, code="article").strip()
        if not text or text == "0":
            raise _error("require_article", "The article this comment belongs to is missing.")
        if not _ARTICLE_RE.match(text):
            raise _error("invalid_article", "The article id is not valid.")
        return text

    @field_validator("parent_id", mode="before")
    @classmethod
    def _parent(cls, value: Any) -> int | None:
        if value in (None, "", 0, "0"):
            return None
        if isinstance(value, bool):
            raise _error("invalid_parent", "The comment you are replying to is not valid.")
        try:
            number = int(str(value).strip())
        except ValueError:
            raise _error(
                "invalid_parent", "The comment you are replying to is not valid."
            ) from None
        if number <= 0 or number > 2**62:
            raise _error("invalid_parent", "The comment you are replying to is not valid.")
        return number

    @field_validator("cookies_consent", "verified_author", mode="before")
    @classmethod
    def _consent(cls, value: Any) -> bool:
        return value not in (None, "", False, "0", "no", "false", 0)

    @field_validator("redirect_to", "user_ip", "user_agent", "referrer", mode="before")
    @classmethod
    def _short_text(cls, value: Any) -> str:
        text = _text(value, code="field")
        if _LINE_CONTROL_RE.search(text):
            raise _error(
                "invalid_characters", "This field contains characters that are not allowed."
            )
        return text[:2048]


# Fields a JSON client may send; anything else is refused so typos do not pass silently.
KNOWN_FIELDS = frozenset(
    alias
    for field in CommentIn.model_fields.values()
    for alias in (
        field.validation_alias.choices if isinstance(field.validation_alias, AliasChoices) else []
    )
    if isinstance(alias, str)
) | {"redirect_to", "user_agent", "verified_author"}

# The public field name to report an error under (the form's own name).
_FIELD_NAMES = {
    "content": "comment",
    "author": "author",
    "email": "email",
    "url": "url",
    "article_id": "comment_post_ID",
    "parent_id": "comment_parent",
}


_PUBLIC_NAME = {
    alias: _FIELD_NAMES.get(name, name)
    for name, field in CommentIn.model_fields.items()
    for alias in (
        [name, *field.validation_alias.choices]
        if isinstance(field.validation_alias, AliasChoices)
        else [name]
    )
    if isinstance(alias, str)
}


def errors_from(exc: ValidationError) -> list[dict[str, str]]:
    """``[{"field", "code", "message"}]`` for every failed field, in form order."""
    errors = []
    for error in exc.errors(include_url=False):
        loc = str(error["loc"][0]) if error["loc"] else ""
        field = _PUBLIC_NAME.get(loc, loc)
        errors.append({"field": field, "code": error["type"], "message": error["msg"]})
    return errors
