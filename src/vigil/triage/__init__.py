"""Triage: extraction, behaviour categories, priority with reasons, clusters, the queue."""
