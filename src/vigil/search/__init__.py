"""Search: full text over reports, entities and cases, with facets and fuzzy names.

Every hit is joined back to the record it came from and filtered by the one access policy at
query time; the index only holds text, so a record the reader may not see is never returned,
counted or hinted at, however stale the index.
"""
