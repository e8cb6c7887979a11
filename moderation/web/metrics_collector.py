"""The gauges read at scrape time: queue depth, the oldest waiting comment's age, the model.

They are not kept between scrapes: each scrape of ``/metrics`` asks the database and the
current scorer, so every worker reports the same, current values.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from moderation.services.review_queue import queue_stats
from moderation.web.database import get_session
from moderation.web.extensions import get_scorer


class LiveCollector(Collector):
    """Values read at scrape time from the database and the scorer (in a request)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depth, age = queue_stats(get_session())
        yield GaugeMetricFamily(
            "moderation_queue_depth", "Comments waiting for a moderator.", value=depth
        )
        yield GaugeMetricFamily(
            "moderation_queue_oldest_age_seconds",
            "Age of the oldest comment waiting for a moderator.",
            value=age,
        )
        scorer = get_scorer()
        model = GaugeMetricFamily(
            "moderation_model_info",
            "The model version this process scores with.",
            labels=["version"],
        )
        model.add_metric([scorer.version if scorer is not None else "none"], 1.0)
        yield model
