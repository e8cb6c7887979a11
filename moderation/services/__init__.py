"""Services: intake, the review queue, webhooks, publishing, accounts and the rest.

They take a session, a scorer and settings as arguments, flush but never commit (the view or
the CLI command commits once), and know nothing of Flask.
"""
