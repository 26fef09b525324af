"""`/metrics` in the Prometheus text format, read from the broker's plain counters when scraped.

The fan-out path only adds to ints on its topic; label lookups happen here, once per scrape.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from server.broker import Broker


class BrokerCollector(Collector):
    """Per-topic streams, events published and delivered, drops, gaps and resumes; topics held
    and evicted."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker

    def collect(self) -> Iterator[Metric]:
        streams = GaugeMetricFamily("sse_open_streams", "Open event streams.", labels=["topic"])
        published = CounterMetricFamily("sse_events_published", "Events published by this server.",
                                         labels=["topic"])
        delivered = CounterMetricFamily("sse_events_delivered",
                                        "Events written to subscribers (replays included).",
                                        labels=["topic"])
        resumes = CounterMetricFamily("sse_resume_requests",
                                      "Streams opened with a Last-Event-ID.", labels=["topic"])
        gaps = CounterMetricFamily("sse_gaps_served", "Gap events sent to resuming subscribers.",
                                   labels=["topic", "reason"])
        drops = CounterMetricFamily("sse_slow_subscriber_drops",
                                    "Subscribers disconnected for reading too slowly.",
                                    labels=["topic", "reason"])
        for topic in list(self.broker.topics.values()):
            name = topic.name
            streams.add_metric([name], len(topic.subscribers))
            published.add_metric([name], topic.published)
            delivered.add_metric([name], topic.delivered)
            resumes.add_metric([name], topic.resumes)
            for reason, count in topic.gaps.items():
                gaps.add_metric([name, reason], count)
            for reason, count in topic.drops.items():
                drops.add_metric([name, reason], count)
        yield GaugeMetricFamily("sse_topics", "Topics this server holds.",
                                value=len(self.broker.topics))
        yield CounterMetricFamily("sse_topics_evicted",
                                  "Idle topics that gave way to new ones (least recently used).",
                                  value=self.broker.evicted)
        yield from (streams, published, delivered, resumes, gaps, drops)


class Metrics:
    """One server's registry (not the global one: several servers may share a process)."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, broker: Broker) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(BrokerCollector(broker))
        self.rejected = Counter("sse_requests_rejected", "Requests refused before any work.",
                                ["reason"], registry=self.registry)

    def reject(self, reason: str) -> None:
        """Count a refusal: unauthorized, stream_limit or publish_rate."""
        self.rejected.labels(reason).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
