"""The baseline of ``benchmarks/startup.py``: FastAPI with one route and nothing of Vigil's."""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()


@app.get("/readyz")
def readyz() -> dict[str, str]:
    return {"status": "ok"}
