"""One policy for names that become file or object names: table names and locations.

A table name comes from a user, a source database or an imported archive; it is never a path
until checked. ``check_table_name`` refuses, naming the table and the rule:

- an empty name, ``.`` or ``..``;
- a path separator (``/`` or ``\\``) or a drive prefix (``C:``), so no absolute path;
- a control character (U+0000 to U+001F, U+007F);
- a leading or trailing space (file systems disagree on them);
- a name synthpipe uses for its own files: starting with ``_sp_`` (staging and delivery
  prefixes), ``_synthpipe`` or ``.`` (temporary and bookkeeping files), or ``_manifest.json``.

``check_location`` applies the same rules to each ``/``-separated segment of a location (a
location may be nested, ``ds/2024``), without the reserved-name rule. The files destination,
the object stores and the artifact store call these before building any path.
"""

from __future__ import annotations

import re

from synthpipe.errors import ConnectorError

# Prefixes and names synthpipe writes next to delivered tables.
RESERVED_PREFIXES = ("_sp_", "_synthpipe", ".")
RESERVED_NAMES = ("_manifest.json",)

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DRIVE = re.compile(r"^[A-Za-z]:")


class UnsafeNameError(ConnectorError):
    """A table or location name that cannot be used as a file or object name."""


def problem(name: str, *, reserved: bool = True) -> str | None:
    """Why ``name`` is not safe as one file or object name, or None when it is."""
    if not isinstance(name, str) or name == "":
        return "it is empty"
    if name in (".", ".."):
        return f"'{name}' means a folder, not a file"
    if "/" in name or "\\" in name:
        return "it contains a path separator ('/' or '\\')"
    if _DRIVE.match(name):
        return "it starts with a drive prefix (like 'C:')"
    if _CONTROL.search(name):
        return "it contains a control character"
    if name != name.strip(" "):
        return "it starts or ends with a space"
    if reserved and (name in RESERVED_NAMES or name.startswith(RESERVED_PREFIXES)):
        return (
            "synthpipe uses names starting with '_sp_', '_synthpipe' or '.', and the name "
            "'_manifest.json', for its own files"
        )
    return None


def check_table_name(name: str, where: str = "") -> str:
    """``name`` when it is safe as a file or object name; else raise UnsafeNameError."""
    why = problem(name)
    if why is not None:
        at = f" for {where}" if where else ""
        raise UnsafeNameError(
            f"table name {name!r} cannot be used{at}: {why}; rename the table (its name in the "
            "generator config or a rename in the pipeline) before delivering"
        )
    return name


def check_location(location: str | None, where: str = "") -> str | None:
    """``location`` when each of its ``/``-separated parts is a safe name; else raise."""
    if location in (None, ""):
        return location
    for part in location.strip("/").split("/"):
        why = problem(part, reserved=False)
        if why is not None or location.startswith("/"):
            why = why or "it is an absolute path"
            at = f" for {where}" if where else ""
            raise UnsafeNameError(
                f"location {location!r} cannot be used{at}: {why}; give a relative location "
                "made of plain names separated by '/'"
            )
    return location
