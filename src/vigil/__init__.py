"""Vigil: counter-terrorism public reporting and multi-agency intelligence."""
