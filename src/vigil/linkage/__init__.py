"""Linkage: entities, known subjects, probabilistic matching and re-engagement alerts."""
