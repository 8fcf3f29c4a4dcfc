"""The exceptions synthpipe raises: one base, a few meaningful kinds.

Every message names the table, column or setting at fault and what to do about it, so the CLI
can print it as one line and a scheduler log stays readable.
"""

from __future__ import annotations


class SynthpipeError(Exception):
    """Base of every error synthpipe raises on purpose."""


class ConfigError(SynthpipeError):
    """A configuration or pipeline file breaks a rule; ``problems`` lists every one found."""

    def __init__(self, problems: list[str] | str, *, source: str | None = None):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.source = source
        head = f"{source}: " if source else ""
        if len(self.problems) == 1:
            message = head + self.problems[0]
        else:
            lines = "\n".join(f"  - {p}" for p in self.problems)
            message = f"{head}{len(self.problems)} problems found:\n{lines}"
        super().__init__(message)


class PluginError(SynthpipeError):
    """A plugin is missing, broken, or does not implement what was asked of it."""


class ConnectorError(SynthpipeError):
    """A source or destination could not be read or written."""


class TargetExistsError(ConnectorError):
    """Mode ``fail`` found targets that already exist; ``targets`` lists all of them."""

    def __init__(self, targets: list[str]):
        self.targets = list(targets)
        super().__init__(
            "mode 'fail' refuses to write because these targets already exist: "
            + ", ".join(self.targets)
            + "; use mode 'overwrite' to replace them or 'append' to add rows"
        )


class NotFoundError(SynthpipeError):
    """A generator, dataset, table or location does not exist."""


class ArtifactError(SynthpipeError):
    """A stored generator or dataset is unreadable, of an unknown version, or in the wrong state."""


class CanceledError(SynthpipeError):
    """Long work (training, generation) was canceled on request."""
