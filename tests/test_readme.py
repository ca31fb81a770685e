"""The README's examples run as written: each ```python block marked
``<!-- readme-test: python -->`` in a fresh interpreter, each marked
``<!-- readme-test: pytest -->`` as a test module under pytest (so the
``kafka_cluster`` fixture comes from the installed plugin)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import ROOT, run_script

BLOCK = re.compile(r"<!-- readme-test: (\w+) -->\n```python\n(.*?)```", re.DOTALL)
EXAMPLES = BLOCK.findall((ROOT / "README.md").read_text(encoding="utf-8"))


def test_the_readme_has_its_examples() -> None:
    kinds = [kind for kind, _ in EXAMPLES]
    assert kinds.count("python") >= 3 and kinds.count("pytest") >= 1


@pytest.mark.parametrize(
    "code", [code for kind, code in EXAMPLES if kind == "python"], ids=lambda c: c.split("\n")[0]
)
def test_python_example_runs(code: str) -> None:
    result = run_script(code)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("code", [code for kind, code in EXAMPLES if kind == "pytest"])
def test_pytest_example_passes(code: str, tmp_path: Path) -> None:
    module = tmp_path / "test_readme_example.py"
    module.write_text(code, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(module)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=str(tmp_path),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
