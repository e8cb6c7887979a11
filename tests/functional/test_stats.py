"""The moderation dashboard on both databases: the numbers its charts show, its page, its API."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from moderation.domain.policy import Status
from moderation.services import stats as service
from moderation.storage.tables import Comment, DecisionRecord, Moderator
from tests.factories import make_comment, make_moderator
from tests.functional.test_moderate_page import sign_in

pytestmark = pytest.mark.functional

# A fixed "now" for the service's own tests: 15:00 UTC; D(k) is k days before, at midnight.
NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def D(k: int, hour: float = 0.0, now: datetime = NOW) -> datetime:
    """``k`` days before ``now``'s day, at ``hour`` UTC."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight - timedelta(days=k) + timedelta(hours=hour)


def _story(
    session: Session,
    *,
    at: datetime,
    auto: Status,
    codes: str,
    version: str,
    later: tuple[tuple[Moderator | None, Status, datetime, bool], ...] = (),
) -> Comment:
    """A comment decided automatically at ``at``, then by ``later`` (moderator, status, when,
    is an undo)."""
    final = later[-1][1] if later else auto
    comment = make_comment(session, created_at=at, status=final, reason_codes=codes)
    comment.decisions[0].status = auto
    comment.decisions[0].created_at = at
    comment.predictions[0].model_version = version
    for moderator, status, when, undo in later:
        comment.decisions.append(
            DecisionRecord(
                actor=moderator.name if moderator else "system",
                moderator_id=moderator.id if moderator else None,
                status=status,
                reasons=[{"code": "moderator", "detail": status.value}],
                undoes_id=comment.decisions[-1].id if undo else None,
                created_at=when,
            )
        )
        session.flush()
    session.flush()
    return comment


def _populate(session: Session, now: datetime = NOW) -> dict[str, Moderator]:
    """The scenario every test reads (see each expected number's comment)."""
    ana = make_moderator(session, name="ana")
    bob = make_moderator(session, name="<b>bo&b</b>")

    def d(k: int, hour: float = 0.0) -> datetime:
        return D(k, hour, now)

    # A: published by model v1, left alone.
    _story(session, at=d(3, 10), auto=Status.APPROVED, codes=",model_clear,", version="v1")
    # B: held by the spam head, ana approves 2 h later.
    _story(
        session,
        at=d(3, 11),
        auto=Status.PENDING,
        codes=",spam_uncertain,new_author,",
        version="v1",
        later=((ana, Status.APPROVED, d(3, 13), False),),
    )
    # C: held by the abuse head, bob refuses it 24 h later.
    _story(
        session,
        at=d(2, 9),
        auto=Status.PENDING,
        codes=",abuse_uncertain,",
        version="v1",
        later=((bob, Status.REJECTED, d(1, 9), False),),
    )
    # D: refused as spam by v1, rescued by ana (never in the queue).
    _story(
        session,
        at=d(2, 10),
        auto=Status.SPAM,
        codes=",spam_score,",
        version="v1",
        later=((ana, Status.APPROVED, d(1, 12), False),),
    )
    # H: published by v2, bob marks it spam (a published comment overturned).
    _story(
        session,
        at=d(2, 12),
        auto=Status.APPROVED,
        codes=",model_clear,",
        version="v2",
        later=((bob, Status.SPAM, d(1, 10), False),),
    )
    # E: held by v2's spam head, still waiting.
    _story(session, at=d(1, 8), auto=Status.PENDING, codes=",spam_uncertain,", version="v2")
    # F: refused as abuse by v2, left alone.
    _story(session, at=d(1, 9), auto=Status.REJECTED, codes=",abuse_score,", version="v2")
    # I: held, ana approves after 1 h, then undoes it 30 min later: waiting again.
    _story(
        session,
        at=d(1, 10),
        auto=Status.PENDING,
        codes=",spam_uncertain,",
        version="v2",
        later=(
            (ana, Status.APPROVED, d(1, 11), False),
            (ana, Status.PENDING, d(1, 11.5), True),
        ),
    )
    # G: held 40 days ago (before the range), still waiting: the oldest.
    _story(session, at=d(40, 12), auto=Status.PENDING, codes=",spam_uncertain,", version="v1")
    # J: a honeypot (a rule, no model) that arrives today.
    _story(session, at=d(0, 9), auto=Status.SPAM, codes=",honeypot,", version="v2")
    return {"ana": ana, "bob": bob}


def test_comments_per_day_by_current_status(db_session: Session) -> None:
    _populate(db_session)
    per_day = service.comments_per_day(db_session, service.date_range(30, NOW))
    assert len(per_day) == 30
    zero = {"approved": 0, "pending": 0, "spam": 0, "rejected": 0}
    assert per_day[D(3).date()] == {**zero, "approved": 2}  # A, B
    assert per_day[D(2).date()] == {**zero, "approved": 1, "spam": 1, "rejected": 1}  # D, H, C
    assert per_day[D(1).date()] == {**zero, "pending": 2, "rejected": 1}  # E, I, F
    assert per_day[D(0).date()] == {**zero, "spam": 1}  # J
    assert per_day[D(29).date()] == zero
    assert D(30).date() not in per_day  # G (day 40) is before the range


def test_backlog_and_oldest_pending_at_each_day_end(db_session: Session) -> None:
    _populate(db_session)
    points = service.backlog(db_session, service.date_range(30, NOW))
    assert len(points) == 30
    by_end = {p.at: p for p in points}
    assert points[-1].at == NOW  # today is read now
    # Day ends: D(k) midnight closes day k+1.
    assert by_end[D(3)].pending == 1  # G
    assert by_end[D(2)].pending == 1  # G (B came and went on day 3)
    assert by_end[D(1)].pending == 2  # G, C
    assert by_end[D(0)].pending == 3  # G, E, I (C decided, I back after the undo)
    assert points[-1].pending == 3
    assert by_end[D(20)].pending == 1  # G alone, long before
    for p in points:
        assert p.oldest_seconds == pytest.approx((p.at - D(40, 12)).total_seconds())


def test_a_stint_from_before_the_range_counts_until_it_ends(db_session: Session) -> None:
    ana = make_moderator(db_session, name="ana")
    _story(
        db_session,
        at=D(5, 12),
        auto=Status.PENDING,
        codes=",abuse_uncertain,",
        version="v1",
        later=((ana, Status.APPROVED, D(0, 1), False),),
    )
    yesterday, today = service.backlog(db_session, service.date_range(2, NOW))
    assert (yesterday.at, yesterday.pending) == (D(0), 1)
    assert yesterday.oldest_seconds == pytest.approx(4.5 * 86400)
    assert (today.at, today.pending, today.oldest_seconds) == (NOW, 0, None)
    month = {p.at: p.pending for p in service.backlog(db_session, service.date_range(30, NOW))}
    assert (month[D(5)], month[D(4)], month[D(1)], month[NOW]) == (0, 1, 1, 0)


def test_median_time_to_decision_per_day(db_session: Session) -> None:
    _populate(db_session)
    times = service.decision_times(db_session, service.date_range(30, NOW))
    assert [(t.day, t.decided, t.median_seconds) for t in times] == [
        (D(3).date(), 1, pytest.approx(2 * 3600)),  # B
        (D(1).date(), 2, pytest.approx((24 * 3600 + 3600) / 2)),  # C (24 h), I (1 h)
    ]


def test_median_of_an_odd_count(db_session: Session) -> None:
    ana = make_moderator(db_session, name="ana")
    for wait in (1, 5, 2):  # hours: median 2
        _story(
            db_session,
            at=D(2, 1),
            auto=Status.PENDING,
            codes=",spam_uncertain,",
            version="v1",
            later=((ana, Status.APPROVED, D(2, 1 + wait), False),),
        )
    (time,) = service.decision_times(db_session, service.date_range(30, NOW))
    assert (time.decided, time.median_seconds) == (3, pytest.approx(2 * 3600))


def test_decisions_per_moderator(db_session: Session) -> None:
    _populate(db_session)
    rows = service.decisions_per_moderator(db_session, service.date_range(30, NOW))
    assert rows == [
        ("ana", {"approved": 3, "undo": 1}),  # B, D, I; the undo on I
        ("<b>bo&b</b>", {"rejected": 1, "spam": 1}),  # C, H
    ]


def test_overturns_per_model_version_and_head(db_session: Session) -> None:
    _populate(db_session)
    rows = {
        (o.version, o.kind): o for o in service.overturns(db_session, service.date_range(30, NOW))
    }
    assert set(rows) == {
        ("v1", "published"),
        ("v1", "held_spam"),
        ("v1", "held_abuse"),
        ("v1", "refused_spam"),
        ("v2", "published"),
        ("v2", "held_spam"),
        ("v2", "refused_abuse"),
        ("v2", "rules"),
    }
    assert (rows["v1", "published"].total, rows["v1", "published"].overturned) == (1, 0)
    rescued = rows["v1", "refused_spam"]
    assert (rescued.total, rescued.overturned, rescued.overturn_rate) == (1, 1, 1.0)
    assert rows["v1", "held_spam"].now == {"approved": 1}
    assert rows["v1", "held_abuse"].now == {"rejected": 1}
    published = rows["v2", "published"]
    assert (published.total, published.overturned, published.now) == (1, 1, {"spam": 1})
    assert rows["v2", "refused_abuse"].overturn_rate == 0.0
    assert rows["v2", "held_spam"].now == {"pending": 2}  # E, I
    assert rows["v2", "held_spam"].overturned is None
    assert rows["v2", "rules"].now == {"spam": 1}  # the honeypot


def test_the_range_is_limited_to_its_days(db_session: Session) -> None:
    _populate(db_session)
    week = service.dashboard(db_session, days=2, now=NOW)
    assert [d.isoformat() for d in week.range.days] == [D(1).date().isoformat(), "2026-11-20"]
    assert sum(sum(v.values()) for v in week.per_day.values()) == 4  # E, F, I, J
    assert week.moderators == [
        ("ana", {"approved": 2, "undo": 1}),
        ("<b>bo&b</b>", {"rejected": 1, "spam": 1}),
    ]


@pytest.mark.parametrize("raw", ["abc", "0", "-3", "91", "1.5", "٣", " 7", "99999999999999999999"])
def test_bad_days_are_refused(raw: str) -> None:
    with pytest.raises(service.BadRequestError):
        service.parse_days(raw)


def test_days_default_and_bounds() -> None:
    assert service.parse_days(None) == 30
    assert service.parse_days("") == 30
    assert service.parse_days("1") == 1
    assert service.parse_days("90") == 90


# --------------------------------------------------------------------------- through HTTP


def _now() -> datetime:
    return datetime.now(UTC)


def _numbers(html: str, chart: str) -> dict[tuple[str, str], str]:
    """The data attributes of one chart's bars: (day or row, series) -> value."""
    svg = re.search(rf'<svg class="chart" id="{chart}".*?</svg>', html, re.S)
    assert svg, chart
    found = {}
    for attrs in re.findall(r"<(?:rect|circle) class=\"(?:bar|point)\"([^>]*)>", svg.group()):
        data = dict(re.findall(r'data-(\w+)="([^"]*)"', attrs))
        found[(data.get("day") or data.get("row", ""), data.get("series", ""))] = data["value"]
    return found


def test_the_page_needs_a_moderator(client: FlaskClient) -> None:
    response = client.get("/moderate/stats")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/moderate/login")
    assert client.get("/api/v1/stats").status_code == 401


def test_the_page_draws_the_numbers(client: FlaskClient, db_session: Session) -> None:
    now = _now()
    if now.hour == 23 and now.minute >= 55:
        pytest.skip("too close to midnight UTC for day-exact numbers")
    _populate(db_session, now)
    db_session.commit()
    sign_in(client, name="ana")
    response = client.get("/moderate/stats")
    assert response.status_code == 200
    html = response.get_data(as_text=True)

    def day(k: int) -> str:
        return D(k, 0, now).date().isoformat()

    per_day = _numbers(html, "chart-per-day")
    assert per_day == {
        (day(3), "approved"): "2",
        (day(2), "approved"): "1",
        (day(2), "spam"): "1",
        (day(2), "rejected"): "1",
        (day(1), "pending"): "2",
        (day(1), "rejected"): "1",
        (day(0), "spam"): "1",
    }
    backlog = _numbers(html, "chart-backlog")
    assert backlog[(day(3), "")] == "1"  # G
    assert backlog[(day(2), "")] == "2"  # G, C
    assert backlog[(day(1), "")] == "3"  # G, E, I at the end of yesterday
    assert backlog[(day(0), "")] == "3"
    times = _numbers(html, "chart-time")
    assert times == {(day(3), "median"): "2.0 h", (day(1), "median"): "12.5 h"}
    moderators = _numbers(html, "chart-moderators")
    assert moderators == {
        ("ana", "approved"): "3",
        ("ana", "undo"): "1",
        ("&lt;b&gt;bo&amp;b&lt;/b&gt;", "rejected"): "1",
        ("&lt;b&gt;bo&amp;b&lt;/b&gt;", "spam"): "1",
    }
    # The moderator's name is text everywhere, never markup.
    assert "<b>bo&b</b>" not in html
    assert "&lt;b&gt;bo&amp;b&lt;/b&gt;" in html
    assert re.search(
        r'data-version="v1" data-kind="refused_spam">.*?class="rate">100\.0%', html, re.S
    )


def test_the_page_answers_400_to_bad_days(client: FlaskClient, db_session: Session) -> None:
    make_moderator(db_session)
    db_session.commit()
    sign_in(client)
    response = client.get("/moderate/stats?days=abc")
    assert response.status_code == 400
    assert "days must be a whole number" in response.get_data(as_text=True)
    assert client.get("/moderate/stats?days=7").status_code == 200
    api = client.get("/api/v1/stats?days=0")
    assert api.status_code == 400
    assert api.get_json()["error"] == "bad_request"


def test_the_api_gives_the_same_numbers(client: FlaskClient, db_session: Session) -> None:
    now = _now()
    if now.hour == 23 and now.minute >= 55:
        pytest.skip("too close to midnight UTC for day-exact numbers")
    _populate(db_session, now)
    db_session.commit()
    sign_in(client, name="ana")
    body = client.get("/api/v1/stats?days=7").get_json()
    assert len(body["comments_per_day"]) == 7
    assert body["comments_per_day"][-4] == {
        "day": D(3, 0, now).date().isoformat(),
        "approved": 2,
        "pending": 0,
        "spam": 0,
        "rejected": 0,
    }
    assert body["backlog"][-1]["pending"] == 3
    assert body["decisions_per_moderator"][0] == {"moderator": "ana", "approved": 3, "undo": 1}
    refused = next(
        o for o in body["overturns"] if (o["model_version"], o["kind"]) == ("v1", "refused_spam")
    )
    assert (refused["total"], refused["overturned"], refused["overturn_rate"]) == (1, 1, 1.0)
