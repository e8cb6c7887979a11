"""The JSON the service answers, as pydantic models: the OpenAPI document's response schemas.

The views build their answers as plain dicts; these models only describe them (``openapi.py``
generates their JSON Schemas) and ``tests/functional/test_openapi.py`` checks real answers
against them. A field declared ``optional()`` is one an answer may leave out. The bodies that
are validated by hand (a reader's report, the Perspective API's requests) are described here
too, the same way (they are never validated through these models).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from moderation.domain.policy import Role, Status

Id = Annotated[int, Field(ge=1)]
PublicStatus = Literal["approved", "pending", "rejected"]
Head = Literal["spam", "abuse"]


def optional(description: str | None = None, **constraints: Any) -> Any:
    """A field an answer (or a body) may leave out: not ``required``, and no default shown
    (the generator drops defaults in serialization mode)."""
    return Field(default=None, description=description, **constraints)


# --------------------------------------------------------------------------- errors


class ErrorItem(BaseModel):
    """One invalid field."""

    field: str
    code: str
    message: str


class Error(BaseModel):
    """An error: a stable code and a message (every invalid field for a 422)."""

    error: str
    message: str
    errors: list[ErrorItem] = optional()
    retry_after: int = optional("Seconds to wait (as Retry-After).")


# --------------------------------------------------------------------------- intake


class Reason(BaseModel):
    """Why a decision was made: a stable code and a detail."""

    code: str
    detail: str = optional()


class PlainReason(Reason):
    """A reason with its meaning in plain words."""

    text: str


class Scores(BaseModel):
    """The model's score per head (null: not scored)."""

    spam: float | None
    abuse: float | None


class Links(BaseModel):
    """Where the comment's status is read."""

    self_: str = Field(alias="self")


class CommentAccepted(BaseModel):
    """A comment stored and decided; a site backend also gets the scores and reasons."""

    id: Id
    status: Status
    message: str
    links: Links
    author_token: str = optional("Lets the author read their held comment.")
    scores: Scores | None = optional()
    reasons: list[Reason] = optional()
    model_version: str | None = optional()


class FormToken(BaseModel):
    """A signed form token, the field it goes in, and the honeypot field's name."""

    field: str
    token: str
    honeypot_field: str


class ReportAccepted(BaseModel):
    """A reader's report, taken."""

    comment_id: int
    reported: bool
    message: str


class ReportIn(BaseModel):
    """A reader's report on a published comment."""

    reason: Literal["spam", "abuse", "off_topic", "other"]
    detail: str = optional(max_length=500)
    redirect_to: str = optional("Form posts: where to go back to.")


# --------------------------------------------------------------------------- publishing


class CommentStatus(BaseModel):
    """A comment's public status, with its text where it may be shown."""

    id: Id
    article_id: str
    status: PublicStatus
    message: str
    parent_id: int | None = optional()
    author: str = optional()
    url: str = optional()
    content: str = optional()
    created_at: datetime = optional()


class PublicComment(BaseModel):
    """A published comment and its published replies."""

    id: Id
    article_id: str
    parent_id: int | None
    author: str
    url: str
    content: str
    created_at: datetime
    replies: list[PublicComment]


class ArticleComments(BaseModel):
    """One page of an article's top-level comments, each with its replies."""

    article_id: str
    order: Literal["oldest", "newest"]
    page: int
    per_page: int
    pages: int
    total: int = Field(description="Top-level comments.")
    comment_count: int = Field(description="Every published comment, replies included.")
    next: str | None = Field(description="The next page (keyset), null on the last.")
    replies_truncated: bool
    comments: list[PublicComment]


# --------------------------------------------------------------------------- operations


class Health(BaseModel):
    """The process answers."""

    status: Literal["ok"]


class Readiness(BaseModel):
    """Whether every dependency is up, and what is wrong otherwise."""

    status: Literal["ready", "not_ready"]
    problems: dict[str, str]
    database: bool
    model_loaded: bool
    model_version: str | None
    model_error: str | None
    versions: dict[str, str]


# --------------------------------------------------------------------------- the queue


class Contribution(BaseModel):
    """A feature that raised a head's score."""

    feature: str = Field(description="The model's own name of the feature.")
    label: str = Field(description="The feature in plain words.")
    weight: float = Field(description="Its push on the log-odds.")
    spans: list[Annotated[list[int], Field(min_length=2, max_length=2)]]


class Thresholds(BaseModel):
    """Below allow publish, at or above reject refuse, in between review."""

    allow: float
    reject: float


class ScoreLine(BaseModel):
    """A head's score beside its thresholds, and where it sits."""

    head: Head
    score: float | None
    allow: float | None
    reject: float | None
    band: str


class LatestDecision(BaseModel):
    """The comment's latest decision."""

    id: int
    actor: str
    status: Status
    reasons: list[PlainReason]
    created_at: datetime


class OpenReport(BaseModel):
    """A reader's report not handled yet."""

    reason: str
    detail: str
    created_at: datetime


class AuthorRules(BaseModel):
    """The rule (block or trust) on the author's email and on their address."""

    email: str | None
    ip: str | None


class QueueItem(BaseModel):
    """A comment as moderators see it (author history, reports and rules in listings)."""

    id: Id
    article_id: str
    article_url: str = Field(description="Where the article is read.")
    parent_id: int | None
    author: str
    email: str
    url: str
    content: str
    ip: str
    status: Status
    scores: Scores
    thresholds: dict[str, Thresholds] | None = Field(
        description="Per head, the allow and reject thresholds in force when scored."
    )
    score_lines: list[ScoreLine] = Field(
        description="Per head: score, thresholds, and where the score sits, in words."
    )
    thresholds_source: Literal["stored", "current"]
    reasons: list[Reason]
    system_reasons: list[PlainReason] = Field(
        description="The automatic decision's reasons, each with a plain-words text."
    )
    latest_decision: LatestDecision | None
    explanation: dict[str, list[Contribution]] | None = Field(
        description="Per head, what raised its score and matters (empty far below allow), as "
        "stored at intake for comments held for review (null: none kept)."
    )
    model_version: str | None
    priority: float
    open_reports: int = Field(description="Readers' reports not handled.")
    created_at: datetime
    claimed_by: int | None
    claim_expires_at: datetime | None
    version: int
    author_history: dict[str, int] = optional("The author's comments per status.")
    reports: list[OpenReport] = optional()
    author_rules: AuthorRules = optional("Block or trust on email / address.")


class ReviewsPage(BaseModel):
    """A page of a queue tab, and the size of every tab."""

    total: int
    total_capped: bool
    counts: dict[str, int]
    count_cap: int
    page: int
    per_page: int
    next_cursor: str | None
    items: list[QueueItem]


class ClaimedItems(BaseModel):
    """The items leased."""

    items: list[QueueItem]


class Decided(BaseModel):
    """The decision recorded, and the item as it now stands."""

    decision_id: int
    item: QueueItem


class BulkResult(BaseModel):
    """One item's outcome."""

    comment_id: int
    ok: bool
    status: str = Field(description="The status now (missing: no such comment).")
    error: str | None


class BulkResults(BaseModel):
    """Per item, its outcome."""

    results: list[BulkResult]


class PredictionEntry(BaseModel):
    """One scoring of the comment."""

    model_version: str
    spam: float | None
    abuse: float | None
    created_at: datetime


class DecisionEntry(BaseModel):
    """One decision on the comment."""

    id: int
    actor: str
    status: Status
    reasons: list[Reason]
    undoes: int | None
    created_at: datetime


class CommentHistory(BaseModel):
    """The model's output and every decision on a comment, oldest first."""

    comment_id: int
    status: Status
    version: int
    predictions: list[PredictionEntry]
    decisions: list[DecisionEntry]


class AuthorRule(BaseModel):
    """The rule on an email or an address now (null action: none)."""

    kind: Literal["email", "ip"]
    value: str
    action: Literal["block", "trust"] | None


class ModeratorAccount(BaseModel):
    """A moderator's account."""

    id: int
    name: str
    role: Role
    disabled: bool


class Moderators(BaseModel):
    """Every account."""

    moderators: list[ModeratorAccount]


class Activation(BaseModel):
    """A model version made active."""

    version: str
    actor: str
    activated_at: datetime


class Models(BaseModel):
    """The active model version, the one this worker serves, the known ones, the latest
    activations."""

    active: str | None
    serving: str | None
    versions: list[str]
    activations: list[Activation]


class DayCounts(BaseModel):
    """The comments of one day by current status."""

    day: date
    approved: int
    pending: int
    spam: int
    rejected: int


class BacklogPoint(BaseModel):
    """The queue at a day's end."""

    at: datetime
    pending: int
    oldest_pending_seconds: float | None


class DecisionTime(BaseModel):
    """How long the comments decided on a day had waited."""

    day: date
    decided: int
    median_seconds: float


class ModeratorDecisions(BaseModel):
    """A moderator's decisions by kind (a kind with none is left out)."""

    moderator: str
    approved: int = optional()
    pending: int = optional()
    spam: int = optional()
    rejected: int = optional()
    undo: int = optional()


class Overturns(BaseModel):
    """What became of one model version's automatic decisions of one kind."""

    model_version: str
    kind: str
    total: int
    now: dict[str, int] = Field(description="The comments per current status.")
    overturned: int | None
    overturn_rate: float | None


class Stats(BaseModel):
    """The dashboard's figures."""

    from_: datetime = Field(alias="from")
    to: datetime
    comments_per_day: list[DayCounts]
    backlog: list[BacklogPoint]
    time_to_decision: list[DecisionTime]
    decisions_per_moderator: list[ModeratorDecisions]
    overturns: list[Overturns]


# --------------------------------------------------------------------------- Perspective


class _Camel(BaseModel):
    """Perspective's names are camelCase."""

    model_config = ConfigDict(alias_generator=to_camel)


class PerspectiveComment(_Camel):
    """The text to score."""

    text: str
    type: str = optional("PLAIN_TEXT or HTML.")


class AttributeRequest(_Camel):
    """How one attribute is to be scored."""

    score_type: str = optional("PROBABILITY only.")
    score_threshold: float = optional(
        "Leave the attribute out when its score is below.", ge=0, le=1
    )


class AnalyzeRequest(_Camel):
    """Perspective's comments:analyze request."""

    comment: PerspectiveComment
    requested_attributes: dict[str, AttributeRequest]
    languages: list[str] = optional()
    do_not_store: bool = optional("Accepted; nothing is stored anyway.")
    client_token: str = optional("Echoed in the answer.")
    session_id: str = optional()
    community_id: str = optional()
    span_annotations: bool = optional("Score each span that raised a score.")


class ScoreValue(_Camel):
    """A suggested score."""

    value: float


class SuggestedScore(_Camel):
    """A suggested score of one attribute."""

    summary_score: ScoreValue


class SuggestScoreRequest(_Camel):
    """Perspective's comments:suggestscore request."""

    comment: PerspectiveComment
    attribute_scores: dict[str, SuggestedScore]
    languages: list[str] = optional()
    client_token: str = optional("Echoed in the answer.")
    session_id: str = optional()
    community_id: str = optional()


class Score(_Camel):
    """A probability."""

    value: float
    type: Literal["PROBABILITY"]


class SpanScore(_Camel):
    """The score of a span of the text."""

    begin: int
    end: int
    score: Score


class AttributeScores(_Camel):
    """One attribute's scores."""

    span_scores: list[SpanScore]
    summary_score: Score


class AnalyzeResponse(_Camel):
    """Scores per requested attribute."""

    attribute_scores: dict[str, AttributeScores]
    languages: list[str]
    detected_languages: list[str]
    client_token: str = optional()


class SuggestScoreResponse(_Camel):
    """The suggestion is stored; the client token echoed."""

    client_token: str = optional()


class GoogleErrorBody(BaseModel):
    """What went wrong, with Google's status name."""

    code: int
    message: str
    status: str
    details: list[dict[str, Any]] = optional()


class GoogleError(BaseModel):
    """Google's error envelope."""

    error: GoogleErrorBody


# Documented request bodies that the views check by hand.
DOCUMENTED_REQUESTS: tuple[type[BaseModel], ...] = (
    ReportIn,
    AnalyzeRequest,
    SuggestScoreRequest,
)
