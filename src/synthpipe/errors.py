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


# Optional dependencies by top-level module: what installs each (an extra of synthpipe, or a
# connector distribution shipped under plugins/ in synthpipe's source tree). The one place that
# knows this; the CLI's error handler and ``require`` read it.
_EXTRA = 'pip install "synthpipe[{}]"'
_PLUGIN = "pip install ./plugins/{}"  # run in synthpipe's source tree
OPTIONAL_MODULES: dict[str, tuple[str, str]] = {
    # module: (what needs it, the install command)
    "great_expectations": ("validation (Great Expectations)", _EXTRA.format("gx")),
    "dbt": ("the dbt integration", _EXTRA.format("dbt")),
    "airflow": ("the Airflow integration", _EXTRA.format("airflow")),
    "fastapi": ("the Airflow UI plugin", _EXTRA.format("airflow")),
    "mostlyai": ("the peer benchmarks", _EXTRA.format("bench")),
    "sdv": ("the peer benchmarks", _EXTRA.format("bench")),
    "synthpipe_postgres": ("the postgres connector", _PLUGIN.format("synthpipe-postgres")),
    "psycopg": ("the postgres connector", _PLUGIN.format("synthpipe-postgres")),
    "synthpipe_mysql": ("the mysql/mariadb connector", _PLUGIN.format("synthpipe-mysql")),
    "pymysql": ("the mysql/mariadb connector", _PLUGIN.format("synthpipe-mysql")),
    "synthpipe_oracle": ("the oracle connector", _PLUGIN.format("synthpipe-oracle")),
    "oracledb": ("the oracle connector", _PLUGIN.format("synthpipe-oracle")),
    "synthpipe_s3": ("the s3 connector", _PLUGIN.format("synthpipe-s3")),
    "boto3": ("the s3 connector", _PLUGIN.format("synthpipe-s3")),
    "botocore": ("the s3 connector", _PLUGIN.format("synthpipe-s3")),
    "synthpipe_gcs": ("the gcs connector", _PLUGIN.format("synthpipe-gcs")),
    "google": ("the gcs connector", _PLUGIN.format("synthpipe-gcs")),
    "synthpipe_objectstore": (
        "the s3 and gcs connectors",
        _PLUGIN.format("synthpipe-objectstore"),
    ),
}


class MissingDependencyError(SynthpipeError, ModuleNotFoundError):
    """An optional dependency is not installed; the message names the command that installs it.

    Also a ``ModuleNotFoundError``, so code that falls back when an import fails still does.
    """

    def __init__(self, module: str, needed_for: str | None = None, fix: str | None = None):
        top = module.split(".")[0]
        known_for, known_fix = OPTIONAL_MODULES.get(top, (None, None))
        self.module, self.fix = module, fix or known_fix
        needed_for = needed_for or known_for
        if self.fix is None:  # a core dependency went missing: the installation is damaged
            self.fix = "pip install --force-reinstall synthpipe"
        text = f"Python module '{module}' is not installed"
        if needed_for:
            text += f"; {needed_for} needs it"
        where = " in a synthpipe source checkout" if "./plugins/" in self.fix else ""
        super().__init__(f"{text}: install it with `{self.fix}`{where}")
        self.name = module


def missing_dependency(exc: BaseException) -> MissingDependencyError | None:
    """The MissingDependencyError for a ModuleNotFoundError of a third-party module.

    None when ``exc`` is not one: synthpipe's own modules missing is a bug, not an install step.
    """
    if isinstance(exc, MissingDependencyError):
        return exc
    if not isinstance(exc, ModuleNotFoundError) or not exc.name:
        return None
    if exc.name.split(".")[0] == "synthpipe":
        return None
    return MissingDependencyError(exc.name)


def require(module: str, needed_for: str | None = None):
    """Import ``module``, or raise MissingDependencyError naming how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        missing = missing_dependency(exc)
        if missing is None:
            raise
        raise MissingDependencyError(missing.module, needed_for) from exc
