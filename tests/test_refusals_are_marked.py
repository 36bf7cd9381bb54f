"""Every refusal a person can read is marked with ``said(...)``, so Welsh pages say it in Welsh.

The words of a :class:`~vigil.web.problems.Problem` (its title and detail), of each
``field_error`` and of a schema validator's ``ValueError`` reach pages. Written as a bare string
or an f-string they cannot be looked up in the catalogue, so this test reads the source and
names each one that is not marked.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SOURCE = Path(__file__).parent.parent / "src" / "vigil"


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else ""


def unmarked(node: ast.expr | None) -> bool:
    """Words written out here without ``said``: a literal, an f-string, or either inside a
    join, a choice or a concatenation. A name or another call carries words made elsewhere."""
    if node is None:
        return False
    if isinstance(node, ast.Call):
        return False
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and node.value.strip() != ""
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp):
        return unmarked(node.left) or unmarked(node.right)
    if isinstance(node, ast.IfExp):
        return unmarked(node.body) or unmarked(node.orelse)
    if isinstance(node, ast.BoolOp):
        return any(unmarked(v) for v in node.values)
    if isinstance(node, ast.Dict):
        return any(unmarked(v) for v in node.values)
    return False


def _words(
    call: ast.Call, positions: tuple[int, ...], keywords: tuple[str, ...]
) -> Iterator[ast.expr]:
    for i in positions:
        if i < len(call.args):
            yield call.args[i]
    for kw in call.keywords:
        if kw.arg in keywords:
            yield kw.value


def refusal_words(tree: ast.AST, schema: bool) -> Iterator[tuple[int, ast.expr]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _name(node.func)
            if name == "Problem":
                found = _words(node, (1, 2), ("title", "detail"))
            elif name == "field_error":
                found = _words(node, (1,), ("detail",))
            elif name == "ValueError" and schema:
                found = _words(node, (0,), ())
            else:
                continue
            for words in found:
                yield node.lineno, words
        elif isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "titles" for t in node.targets
        ):
            yield node.lineno, node.value  # the framework's own error titles


def test_every_refusal_a_page_can_show_is_marked_for_translation() -> None:
    bare = []
    for path in sorted(SOURCE.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for line, words in refusal_words(tree, schema=path.name == "schemas.py"):
            if unmarked(words):
                bare.append(f"{path.relative_to(SOURCE)}:{line}: {ast.unparse(words)[:70]}")
    assert bare == [], "unmarked refusal words (wrap them in said(...)):\n" + "\n".join(bare)


def test_the_check_finds_bare_words_and_passes_marked_ones() -> None:
    tree = ast.parse(
        "Problem(422, 'Invalid request', f'No team {name}.')\n"
        "Problem(404, said('Not found'), said('No case %(r)s.', r=ref))\n"
        "field_error('#/team', 'unknown team')\n"
        "field_error('#/team', detail)\n"
        "raise ValueError('too long')\n"
    )
    found = sorted((line, unmarked(words)) for line, words in refusal_words(tree, schema=True))
    assert found == [(1, True), (1, True), (2, False), (2, False), (3, True), (4, False), (5, True)]
    assert all(line != 5 for line, _ in refusal_words(tree, schema=False))
