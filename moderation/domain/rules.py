"""The intake rules' settings and the rules that need no text analysis: block lists, the
reason codes stored for search, a held comment's review priority, what a sender is told."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from moderation.domain.policy import Reason, Status, Thresholds


@dataclass(frozen=True)
class IntakeSettings:
    """The intake rules' settings (from config)."""

    flood_seconds: int = 15
    max_links: int = 2
    blocked_ips: frozenset[str] = frozenset()
    blocked_emails: frozenset[str] = frozenset()
    blocked_domains: frozenset[str] = frozenset()
    banned_words: tuple[str, ...] = ()
    suspect_words: tuple[str, ...] = ()
    trusted_after_approved: int = 2
    threshold_overrides: dict[str, dict[str, float]] = field(default_factory=dict)


def _domain_of(value: str) -> str:
    if "@" in value and "://" not in value:
        return value.rsplit("@", 1)[1].lower()
    try:
        host = urlsplit(value if "://" in value else f"http://{value}").hostname or ""
    except ValueError:
        return ""
    return host.lower().removeprefix("www.")


def blocked_reasons(
    *, ip: str, email: str, url: str, settings: IntakeSettings
) -> tuple[Reason, ...]:
    """The block lists' verdict on an address, an email and a website."""
    reasons = []
    if ip and ip in settings.blocked_ips:
        reasons.append(Reason("blocked_ip", ip))
    if email.lower() in settings.blocked_emails:
        reasons.append(Reason("blocked_email", email.lower()))
    for domain in sorted({_domain_of(email), _domain_of(url)} - {""}):
        if any(domain == b or domain.endswith("." + b) for b in settings.blocked_domains):
            reasons.append(Reason("blocked_domain", domain))
    return tuple(reasons)


def reason_codes(reasons: Sequence[Reason]) -> str:
    """``",code,code,"``: searchable with ``LIKE '%,code,%'`` on every backend."""
    return "," + ",".join(r.code for r in reasons)[:490] + ","


def review_priority(
    scores: Mapping[str, float] | None, thresholds: Mapping[str, Thresholds]
) -> float:
    """1 where a score sits in the middle of its review band, 0 at its edges or outside.

    Unscored comments come first: nothing at all is known about them.
    """
    if scores is None:
        return 1.0
    best = 0.0
    for head, t in thresholds.items():
        half = (t.reject - t.allow) / 2
        if half <= 0:
            continue
        best = max(best, 1.0 - abs(scores[head] - (t.allow + half)) / half)
    return round(max(best, 0.0), 6)


def public_status(status: Status) -> Status:
    """What the sender is told: spam is shown as pending (it helps spammers probe otherwise)."""
    return Status.PENDING if status is Status.SPAM else status
