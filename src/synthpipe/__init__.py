"""synthpipe: production-like synthetic data as a scheduled data-platform job.

The Python API mirrors the CLI verbs: ``train``, ``generate``, ``report``, ``validate``,
``deliver`` and ``run`` (``atrain`` and ``agenerate`` for asyncio), plus the artifact
functions (``list_datasets``, ``delete_datasets``, ``apply_retention``, ...). Everything heavy
is imported lazily, on first use, so ``import synthpipe`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

from synthpipe.errors import SynthpipeError
from synthpipe.hookspecs import hookimpl

_API = {
    "train",
    "generate",
    "run",
    "deliver",
    "report",
    "validate",
    "atrain",
    "agenerate",
    "load_pipeline",
    "connect",
    "list_generators",
    "get_generator",
    "list_datasets",
    "get_dataset",
    "export_generator",
    "import_generator",
    "clone_generator",
    "delete_generator",
    "delete_generators",
    "delete_dataset",
    "delete_datasets",
    "apply_retention",
}

if TYPE_CHECKING:
    from synthpipe.api import *  # noqa: F403


def __getattr__(name: str):
    if name == "validate":
        # The validation package is callable (``validate_dataset``): once imported, Python
        # sets it as this attribute anyway, so it is the one answer before and after.
        from importlib import import_module

        return import_module("synthpipe.validate")
    if name in _API:
        from synthpipe import api

        return getattr(api, name)
    raise AttributeError(f"module 'synthpipe' has no attribute {name!r}")


__all__ = ["SynthpipeError", "__version__", "hookimpl", *sorted(_API)]
