"""Hook specifications: what a synthpipe plugin can provide.

A plugin is a module (or object) with functions decorated ``@synthpipe.hookimpl`` whose names
match the hooks below. Each hook receives a ``register`` callback and calls it once per thing it
provides, so one plugin can contribute several connectors or generators.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("synthpipe")
hookimpl = pluggy.HookimplMarker("synthpipe")


@hookspec
def register_connectors(register):
    """Register connector classes: ``register(ConnectorClass)``; the class names its ``kind``."""


@hookspec
def register_generators(register):
    """Register generator classes: ``register(GeneratorClass)``; the class names its ``kind``."""
