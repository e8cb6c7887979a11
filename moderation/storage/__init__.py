"""Storage: the engine and declarative base, the tables, Alembic migrations and the seeder.

It imports only the domain; the app's per-request sessions are web glue
(:mod:`moderation.web.database`).
"""
