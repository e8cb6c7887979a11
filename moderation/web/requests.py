"""The moderator API's JSON request bodies, as the pydantic models that validate them (and from
which ``openapi.py`` generates their schemas)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from moderation.services.review_queue import Action

MAX_ID = 2**62  # ids beyond any row (and beyond a 64-bit column) are simply not found
ItemId = Annotated[int, Field(ge=1, le=MAX_ID)]


class DecisionIn(BaseModel):
    """A moderator's decision."""

    model_config = ConfigDict(extra="forbid")
    action: Action
    reason: str | None = Field(default=None, max_length=500)
    version: int | None = None


class BulkIn(BaseModel):
    """One decision for several comments."""

    model_config = ConfigDict(extra="forbid")
    ids: list[ItemId] = Field(min_length=1, max_length=500)
    action: Action
    reason: str | None = Field(default=None, max_length=500)


class ClaimNextIn(BaseModel):
    """How many items to lease."""

    model_config = ConfigDict(extra="forbid")
    count: int = Field(default=1, ge=1, le=50)


class AuthorRuleIn(BaseModel):
    """Block an email or an address, trust an email, or lift the rule (``clear``)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["email", "ip"]
    value: str = Field(min_length=1, max_length=100)
    action: Literal["block", "trust", "clear"]
    reason: str = Field(default="", max_length=500)


class UndoIn(BaseModel):
    """Undo, guarded by the decision meant and the version the moderator saw."""

    model_config = ConfigDict(extra="forbid")
    decision_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    version: int | None = None


class ActivateIn(BaseModel):
    """The model version to make active on every instance."""

    model_config = ConfigDict(extra="forbid")
    version: str = Field(min_length=1, max_length=64)
