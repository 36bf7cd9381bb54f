"""What the search API answers."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

COUNT_LIMIT = 2_000
"""Hits counted per search: above it the total is a floor and the facets count the newest
this many (a bounded cost for a common word over a million records)."""


class RecordType(StrEnum):
    report = "report"
    entity = "entity"
    case = "case"


class SearchHit(BaseModel):
    type: RecordType
    id: str = Field(description="The report's or case's reference; an entity's id")
    title: str = Field(description="Plain text: escape it before putting it in a page")
    snippet: str = Field(
        description=(
            "HTML: the matching passage, escaped, with each match inside <mark>…</mark>. "
            "Safe to insert into a page as it is."
        )
    )
    at: datetime = Field(description="When the report was received or the record created")
    kind: str = Field(description="The report's kind, the entity's kind, or the case's status")
    classification: str
    organisation: str = Field(description="The owning organisation")
    href: str = Field(description="Where the API serves the record")


class FacetCount(BaseModel):
    value: str
    count: int


class Facets(BaseModel):
    """Counts over every hit the reader may see (not only this page; the newest
    ``COUNT_LIMIT`` when there are more), largest first."""

    type: list[FacetCount]
    category: list[FacetCount] = Field(description="Reports' active triage categories")
    priority: list[FacetCount] = Field(description="Reports' priority, or 'pending'")
    time: list[FacetCount] = Field(
        description="day, week, month, year or older: how long ago (disjoint buckets)"
    )
    place: list[FacetCount] = Field(description="Outward postcode of the report or place")
    organisation: list[FacetCount]


class SearchPage(BaseModel):
    total: int = Field(
        description=f"Hits the reader may see, on every page (counted up to {COUNT_LIMIT:,})"
    )
    total_exact: bool = Field(
        description=f"False when more than {COUNT_LIMIT:,} hits matched (the total and the "
        f"facets then count the newest {COUNT_LIMIT:,}), or when the index is catching up"
    )
    index_complete: bool = Field(
        True,
        description="False while recent changes wait to be indexed (after a large import, "
        "say): the hits may leave out the newest records; search again shortly",
    )
    hits: list[SearchHit]
    facets: Facets
    next_cursor: str | None
