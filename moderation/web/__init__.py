"""The web layer: the app factory (:mod:`moderation.web.app`), blueprints, error pages and
the Flask glue of the layers below (database sessions, the scorer)."""
