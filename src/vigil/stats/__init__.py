"""Statistics for supervisors: counts and timings over the records each user may see."""
