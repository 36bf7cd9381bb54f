"""Tests for triage: extraction, categories, priority, clusters and the queue."""
