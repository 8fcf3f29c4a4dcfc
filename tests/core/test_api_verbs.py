"""Every verb the docs promise is on the ``synthpipe`` module, and `synthpipe.validate` works
in a fresh interpreter (it is the callable validation package)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
from daily_support import write_pipeline

import synthpipe

ROOT = Path(__file__).resolve().parents[2]
VERBS = ("train", "generate", "report", "validate", "deliver", "run", "atrain", "agenerate")


def documented_functions() -> set[str]:
    """Every `synthpipe.NAME(` call and `synthpipe.NAME` the README, the docs and the package
    docstrings show (module paths such as synthpipe.validate.dataset excluded)."""
    texts = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    texts += [ROOT / "src" / "synthpipe" / "__init__.py", ROOT / "src" / "synthpipe" / "api.py"]
    found = set()
    for path in texts:
        text = path.read_text()
        found |= set(re.findall(r"(?<![\w./])synthpipe\.([a-z_]\w*)\(", text))
        found |= set(re.findall(r"`synthpipe\.([a-z_]\w*)`", text))
    return found


def test_every_documented_function_is_on_the_module():
    names = documented_functions()
    assert {"train", "generate", "deliver", "validate", "atrain", "agenerate"} <= names
    for name in sorted(names):
        if name != "validate" and importlib.util.find_spec(f"synthpipe.{name}") is not None:
            continue  # a module named in prose (`synthpipe.api`), not a function
        assert callable(getattr(synthpipe, name, None)), f"synthpipe.{name} is documented"
    assert set(VERBS) <= set(synthpipe.__all__)


@pytest.mark.parametrize("verb", VERBS)
def test_each_verb_resolves_in_a_fresh_interpreter(verb):
    code = f"import synthpipe; assert callable(synthpipe.{verb}); print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def test_synthpipe_validate_validates_a_dataset(home, tmp_path):
    generator = synthpipe.train(write_pipeline(tmp_path))
    dataset = synthpipe.generate(generator.id, seed=3)
    result = synthpipe.validate(dataset.id)
    assert result.success, result.summary()
    assert synthpipe.get_dataset(dataset.id).validation["success"] is True
    assert synthpipe.validate.validate_dataset is not None  # still the package as well
