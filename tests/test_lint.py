"""The linter runs inside the test suite, so `pytest` (the README's and CI's test command)
also lints: `ruff check humanrecon tests tools` with the rules of pyproject.toml's
``[tool.ruff]``, and every ``# noqa`` says on its own line why the rule does not apply."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINTED = ("humanrecon", "tests", "tools")

# a suppression comment: the codes, then (required) a reason in words
_NOQA = re.compile(r"#\s*noqa\b(?P<codes>:\s*[A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*)?(?P<rest>.*)$", re.IGNORECASE)


def test_ruff_passes():
    if importlib.util.find_spec("ruff") is None:
        pytest.skip("ruff is not installed: `pip install -e .[test]` (or `bash tools/setup.sh --test`) brings it")
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise",
                           *LINTED], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"ruff check {' '.join(LINTED)} found problems:\n{done.stdout}{done.stderr}"


def _explained(comment: str) -> bool:
    """False for a ``# noqa`` comment without a rule code or without a reason in words."""
    match = _NOQA.search(comment)
    if match is None:
        return True
    reason = match["rest"].strip(" -–—:()")
    return match["codes"] is not None and re.search(r"[a-z]{3}", reason, re.IGNORECASE) is not None


def _comments(path: Path):
    """``(line number, text)`` of each comment of a Python file (not of its strings)."""
    with tokenize.open(path) as file:
        for token in tokenize.generate_tokens(file.readline):
            if token.type == tokenize.COMMENT:
                yield token.start[0], token.string


def test_every_noqa_names_its_rule_and_says_why():
    found = [f"{path.relative_to(ROOT)}:{number}: {comment}"
             for folder in LINTED for path in sorted((ROOT / folder).rglob("*.py"))
             for number, comment in _comments(path) if not _explained(comment)]
    assert not found, ("each `# noqa` names its rule and gives the reason on the same line, e.g. "
                       "`# noqa: BLE001 - report, don't fail`; or fix the code instead:\n" + "\n".join(found))


@pytest.mark.parametrize("comment, ok", [
    ("# noqa: BLE001 - report, don't fail", True),
    ("# noqa: E402, F401  (after sys.path is set)", True),
    ("# noqa: E402", False),
    ("# NOQA:E402", False),
    ("# noqa", False),
    ("# noqa - no rule named", False),
    ("# a comment", True),
])
def test_noqa_check_itself(comment, ok):
    assert _explained(comment) is ok
