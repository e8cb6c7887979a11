"""Akismet compatibility API (being built)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("akismet", __name__)
