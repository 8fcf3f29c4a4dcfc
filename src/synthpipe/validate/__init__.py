"""Validation of synthetic datasets with Great Expectations, before they are delivered.

From a generator's training schema and statistics, ``derive_suites`` derives one suite of
checks per table; ``validate_dataset`` runs them (GX in an ephemeral context, relational checks
in DuckDB, quality gates on the QA metrics) and marks the dataset, so delivery refuses a dataset
that failed unless forced. GX, pandas and DuckDB are imported only when a validation runs.

The package is callable: ``synthpipe.validate(dataset)`` is ``validate_dataset(dataset)``. The
top-level API names its verb ``validate`` too, and once this package is imported the attribute
``synthpipe.validate`` is the package, so calling it must keep working.
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from synthpipe.validate.checks import Check
    from synthpipe.validate.dataset import validate_dataset
    from synthpipe.validate.result import ValidationResult
    from synthpipe.validate.suites import derive_suites

_EXPORTS = {
    "validate_dataset": "synthpipe.validate.dataset",
    "ValidationResult": "synthpipe.validate.result",
    "derive_suites": "synthpipe.validate.suites",
    "Check": "synthpipe.validate.checks",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        from importlib import import_module

        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'synthpipe.validate' has no attribute {name!r}")


class _CallablePackage(types.ModuleType):
    def __call__(self, *args, **kwargs):
        from synthpipe.validate.dataset import validate_dataset

        return validate_dataset(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage

__all__ = ["Check", "ValidationResult", "derive_suites", "validate_dataset"]
