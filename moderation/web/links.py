"""Links the moderator pages and API hand out."""

from __future__ import annotations

from urllib.parse import quote

from flask import current_app, url_for

DEMO_ARTICLE_ID = "demo-article"  # the article of the demo page (web/demo.py)


def article_url(article_id: str) -> str:
    """Where the article is read: ``ARTICLE_URL`` with the id filled in; without it, the demo
    article's page for its id, else the queue filtered to the article (never raw JSON)."""
    template = str(current_app.config.get("ARTICLE_URL") or "")
    if template:
        return template.replace("{article_id}", quote(article_id, safe=""))
    if current_app.config["DEMO_PAGE"] and article_id == DEMO_ARTICLE_ID:
        return url_for("demo.article")
    return url_for("moderate.queue", tab="all", article=article_id)
