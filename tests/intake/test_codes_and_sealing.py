"""References, follow-up codes and envelope encryption."""

from __future__ import annotations

import os

import pytest
from cryptography.exceptions import InvalidTag

from vigil.intake.codes import (
    CODE_ALPHABET,
    CodeHasher,
    new_followup_code,
    new_reference,
    normalise_code,
    normalise_reference,
)
from vigil.sealing import Sealed, Sealer


def test_references_are_unique_and_use_the_unambiguous_alphabet() -> None:
    refs = {new_reference() for _ in range(2000)}
    assert len(refs) == 2000
    for ref in refs:
        assert normalise_reference(ref) == ref
        assert not set(ref[4:].replace("-", "")) & set("01ILOU")


def test_reference_typed_loosely_is_understood() -> None:
    assert normalise_reference(" vgl 7k4m q2xr ") == "VGL-7K4M-Q2XR"
    assert normalise_reference("7K4MQ2XR") == "VGL-7K4M-Q2XR"
    assert normalise_reference("VGL-0000-0000") is None
    assert normalise_reference("nonsense") is None


def test_followup_code_carries_100_bits() -> None:
    code = new_followup_code()
    raw = code.replace("-", "")
    assert len(raw) == 20 and set(raw) <= set(CODE_ALPHABET)
    assert len(CODE_ALPHABET) ** 20 >= 2**100


def test_code_hash_is_argon2id_and_verifies_loosely_typed_codes() -> None:
    hasher = CodeHasher(1, 1024)
    code = new_followup_code()
    stored = hasher.hash(code)
    assert stored.startswith("$argon2id$")
    assert code not in stored
    assert hasher.verify(stored, code.lower().replace("-", " "))
    assert not hasher.verify(stored, new_followup_code())
    assert normalise_code("oIl-u") == "011V"


def test_sealed_values_open_only_with_their_context_and_key() -> None:
    sealer = Sealer({"k1": os.urandom(32)}, "k1")
    sealed = sealer.seal(b"synthetic identity", b"reporter:VGL-2222-2222")
    assert b"synthetic" not in sealed.ciphertext
    assert sealer.open(sealed, b"reporter:VGL-2222-2222") == b"synthetic identity"
    with pytest.raises(InvalidTag):
        sealer.open(sealed, b"reporter:VGL-3333-3333")
    assert Sealed.unpack(sealed.pack()) == sealed


def test_rewrap_moves_to_the_new_key_without_touching_the_data() -> None:
    old, new = os.urandom(32), os.urandom(32)
    sealed = Sealer({"k1": old}, "k1").seal(b"data", b"ctx")
    both = Sealer({"k1": old, "k2": new}, "k2")
    moved = both.rewrap(sealed)
    assert moved.key_id == "k2" and moved.ciphertext == sealed.ciphertext
    assert Sealer({"k2": new}, "k2").open(moved, b"ctx") == b"data"
