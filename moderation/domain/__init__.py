"""The domain: statuses, reasons, thresholds, the verdict and the rules that reach it.

Plain Python, the bottom layer: no Flask, no SQLAlchemy, nothing of the layers above.
"""
