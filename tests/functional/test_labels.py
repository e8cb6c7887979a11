"""Site labels cannot flood training: one per text, a daily cap, reviewed before they count."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from moderation import create_app
from moderation.cli import main
from moderation.services.feedback import (
    LabelCapError,
    feedback_examples,
    record_label,
    set_status,
)
from moderation.services.sitekeys import create_site_key
from moderation.storage.tables import FeedbackLabel
from moderation.web.database import get_session

pytestmark = pytest.mark.functional


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(FeedbackLabel)) or 0


def spam_form(key: str, **extra: Any) -> dict[str, Any]:
    return {
        "api_key": key,
        "blog": "https://news.example",
        "user_ip": "192.0.2.1",
        "comment_content": "Cheap watches at www.replica-watch.example, best prices",
        **extra,
    }


def test_the_same_text_twice_is_one_label_and_a_changed_mind_is_reviewed_again(
    db_session: Session,
) -> None:
    site, _ = create_site_key(db_session, name="news")
    first = record_label(db_session, source="akismet", site=site, content="Buy  PILLS", spam=1)
    set_status(db_session, status="accepted", ids=[first.id])
    again = record_label(db_session, source="akismet", site=site, content="buy pills", spam=1)
    assert again.id == first.id
    assert again.status == "accepted"  # the same label again changes nothing
    flipped = record_label(db_session, source="akismet", site=site, content="buy pills", spam=0)
    assert flipped.id == first.id
    assert flipped.status == "pending"
    assert count(db_session) == 1


def test_a_site_gets_a_daily_cap_of_new_labels(db_session: Session) -> None:
    site, _ = create_site_key(db_session, name="flooder")
    for i in range(3):
        record_label(db_session, source="akismet", site=site, content=f"t {i}", spam=1, daily_cap=3)
    with pytest.raises(LabelCapError):
        record_label(db_session, source="akismet", site=site, content="t 9", spam=1, daily_cap=3)
    # Repeats do not count against the cap.
    record_label(db_session, source="akismet", site=site, content="t 0", spam=1, daily_cap=3)


def test_only_accepted_labels_train(db_session: Session) -> None:
    site, _ = create_site_key(db_session, name="news")
    kept = record_label(db_session, source="akismet", site=site, content="kept", spam=1)
    dropped = record_label(db_session, source="akismet", site=site, content="dropped", spam=1)
    record_label(db_session, source="akismet", site=site, content="waiting", spam=1)
    set_status(db_session, status="accepted", ids=[kept.id])
    set_status(db_session, status="rejected", ids=[dropped.id])
    assert [e.content for e in feedback_examples(db_session)] == ["kept"]


def test_akismet_flood_of_one_label_stores_one_row_and_then_refuses_new_ones(
    make_app: Callable[..., Flask], db_session: Session
) -> None:
    _, key = create_site_key(db_session, name="flood")
    db_session.commit()
    client = make_app(FEEDBACK_DAILY_CAP=5).test_client()
    for _ in range(50):
        assert client.post("/1.1/submit-spam", data=spam_form(key)).status_code == 200
    assert count(db_session) == 1
    for i in range(4):
        form = spam_form(key, comment_content=f"another spam text number {i}")
        assert client.post("/1.1/submit-spam", data=form).status_code == 200
    refused = client.post("/1.1/submit-spam", data=spam_form(key, comment_content="one more"))
    assert refused.status_code == 429
    assert count(db_session) == 5


@pytest.mark.usefixtures("cli_database")
def test_labels_command_lists_accepts_rejects_and_purges() -> None:
    runner = CliRunner()
    with create_app({"SCORER_BACKEND": "fixed"}).app_context():
        session = get_session()
        site, _ = create_site_key(session, name="shop")
        a = record_label(session, source="akismet", site=site, content="label a", spam=1)
        record_label(session, source="akismet", site=site, content="label b", spam=0)
        session.commit()
        first = a.id
    listed = runner.invoke(main, ["labels", "list", "--site", "shop"])
    assert listed.exit_code == 0, listed.output
    assert "pending" in listed.output
    assert "label a" in listed.output
    rejected = runner.invoke(main, ["labels", "reject", str(first)])
    assert "rejected 1 label" in rejected.output
    accepted = runner.invoke(main, ["labels", "accept", "--site", "shop"])
    assert "accepted 1 label" in accepted.output  # the other, still pending one
    purged = runner.invoke(main, ["labels", "purge", "--site", "shop"])
    assert "deleted 2 label" in purged.output
