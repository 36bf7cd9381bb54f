"""Report references and follow-up codes.

Both use Crockford's base32 alphabet family so that people can read them aloud and type them
without confusing 0/O or 1/I/L. References are short (they are quoted on the phone); the
follow-up code is the secret and carries 100 random bits.
"""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

# References leave out 0, 1 and every letter that could be misread (I, L, O, U).
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
REFERENCE_PREFIX = "VGL"
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: 5 bits a character
CODE_LENGTH = 20  # 100 bits
_CODE_FIXUPS = str.maketrans({"O": "0", "I": "1", "L": "1", "U": "V"})


def _random_string(alphabet: str, length: int) -> str:
    """Uniform characters from one read of the system's randomness (a read per character
    costs a system call each: ~50 per report before)."""
    size = len(alphabet)
    limit = 256 - 256 % size  # reject bytes that would bias the modulo
    out: list[str] = []
    while len(out) < length:
        for byte in secrets.token_bytes(length * 2):
            if byte < limit:
                out.append(alphabet[byte % size])
                if len(out) == length:
                    break
    return "".join(out)


def new_reference() -> str:
    chars = _random_string(REFERENCE_ALPHABET, 8)
    return f"{REFERENCE_PREFIX}-{chars[:4]}-{chars[4:]}"


def normalise_reference(text: str) -> str | None:
    """``vgl 7k4m q2xr`` → ``VGL-7K4M-Q2XR``; None when it cannot be a reference."""
    compact = "".join(ch for ch in text.upper() if ch.isalnum())
    if compact.startswith(REFERENCE_PREFIX):
        compact = compact[len(REFERENCE_PREFIX) :]
    if len(compact) != 8 or any(ch not in REFERENCE_ALPHABET for ch in compact):
        return None
    return f"{REFERENCE_PREFIX}-{compact[:4]}-{compact[4:]}"


def new_followup_code() -> str:
    raw = _random_string(CODE_ALPHABET, CODE_LENGTH)
    return "-".join(raw[i : i + 4] for i in range(0, CODE_LENGTH, 4))


def normalise_code(text: str) -> str:
    """Drop separators, upper-case, and read easily-confused letters as Crockford does."""
    return "".join(ch for ch in text.upper() if ch.isalnum()).translate(_CODE_FIXUPS)


class CodeHasher:
    """argon2id over the normalised code. The code's entropy, not the cost, is the defence."""

    def __init__(self, time_cost: int, memory_kib: int) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=1, type=Type.ID
        )

    def hash(self, code: str) -> str:
        return str(self._hasher.hash(normalise_code(code)))

    def verify(self, code_hash: str, code: str) -> bool:
        try:
            return bool(self._hasher.verify(code_hash, normalise_code(code)))
        except (VerificationError, InvalidHashError):
            return False
