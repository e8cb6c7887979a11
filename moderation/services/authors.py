"""Moderators' standing rules on authors: block an email or an address, trust an email.

Intake (:mod:`moderation.services.intake`) applies them: a block makes the author's next
comments spam (``blocked_email`` / ``blocked_ip``); a trusted email counts as an approved
history, but only for an author who proves continuity, as anyone can type an email.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Literal

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from moderation.domain.errors import ValidationFailedError
from moderation.storage.tables import AuthorRule, Moderator

Kind = Literal["email", "ip"]
RuleAction = Literal["block", "trust"]


def normalised(kind: Kind, value: str) -> str:
    """The stored form of an email (lower-cased) or an address (canonical).

    :raises ValidationFailedError: not an email or not an IP address.
    """
    value = value.strip()
    if kind == "email":
        if "@" not in value or len(value) > 100 or any(c.isspace() for c in value):
            raise ValidationFailedError(
                [{"field": "value", "code": "invalid_email", "message": "Give an email address."}]
            )
        return value.lower()
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValidationFailedError(
            [{"field": "value", "code": "invalid_ip", "message": "Give an IP address."}]
        ) from None


def set_rule(
    session: Session,
    *,
    kind: Kind,
    value: str,
    action: RuleAction,
    moderator: Moderator,
    reason: str = "",
) -> AuthorRule:
    """Block or trust an author (replacing any earlier rule on the same email or address)."""
    if kind == "ip" and action == "trust":
        raise ValidationFailedError(
            [
                {
                    "field": "action",
                    "code": "invalid_action",
                    "message": "Only an email can be trusted; an address can only be blocked.",
                }
            ]
        )
    value = normalised(kind, value)
    rule = session.scalar(
        select(AuthorRule).where(AuthorRule.kind == kind, AuthorRule.value == value)
    )
    if rule is None:
        rule = AuthorRule(kind=kind, value=value)
        session.add(rule)
    rule.action = action
    rule.moderator_id = moderator.id
    rule.reason = reason.strip()[:500]
    session.flush()
    return rule


def clear_rule(session: Session, *, kind: Kind, value: str) -> bool:
    """Lift the rule on an email or an address; whether there was one."""
    result = session.execute(
        delete(AuthorRule).where(
            AuthorRule.kind == kind, AuthorRule.value == normalised(kind, value)
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def rules_for(
    session: Session, *, emails: Sequence[str] = (), ips: Sequence[str] = ()
) -> dict[tuple[str, str], str]:
    """``{(kind, value): action}`` for these emails and addresses (one statement)."""
    lowered = {e.lower() for e in emails}
    addresses = {i for i in ips if i}
    if not lowered and not addresses:
        return {}
    rows = session.execute(
        select(AuthorRule.kind, AuthorRule.value, AuthorRule.action).where(
            or_(
                (AuthorRule.kind == "email") & AuthorRule.value.in_(lowered),
                (AuthorRule.kind == "ip") & AuthorRule.value.in_(addresses),
            )
        )
    ).all()
    return {(kind, value): action for kind, value, action in rows}
