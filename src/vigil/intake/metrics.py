"""Intake's Prometheus counters, kept apart so that the service that stores a report counts
it (and only a newly stored one: an idempotent replay is not another report), whichever
channel (API or web form) it came through."""

from __future__ import annotations

from prometheus_client import Counter

RECEIVED = Counter("vigil_reports_received_total", "Reports durably accepted", ["channel"])
FOLLOWUPS = Counter("vigil_followups_received_total", "Follow-ups durably accepted", ["channel"])
