"""Person matching: normalisation, the Fellegi–Sunter model (trained with Splink), an
in-process scorer with Splink's exact weights, blocking keys, and CSV batch matching.

The store-facing code (``vigil.linkage.online``) uses ``PersonModel``, ``PersonScorer`` and
``blocking_keys``; the CLI (``vigil link …``) uses ``batch`` and ``tables``, which bring Splink,
DuckDB and Arrow and are therefore not imported here.
"""

from vigil.linkage.matching.blocking import PREDICTION_RULES, blocking_keys
from vigil.linkage.matching.model import ModelError, PersonModel
from vigil.linkage.matching.normalise import prepare_person
from vigil.linkage.matching.scorer import Contribution, PairScore, PersonScorer

__all__ = [
    "PREDICTION_RULES",
    "Contribution",
    "ModelError",
    "PairScore",
    "PersonModel",
    "PersonScorer",
    "blocking_keys",
    "prepare_person",
]
