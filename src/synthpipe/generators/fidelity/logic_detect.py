"""Finding the rules a table's real rows hold (see ``logic``), at a bounded cost.

Candidates are searched on row samples with vectorised checks (sorted codes for functional
dependencies, 64-bit fingerprints of sampled values for identities, datetime parts and parent
copies, pairwise comparisons for orders), then verified on all rows: a rule is kept when it
holds on at least ``logic.HOLD`` of the rows it applies to. At most ``MAX_VERIFY`` candidates
of each kind are verified, so a table of 300 columns costs a few seconds, not hours.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synthpipe.generators.fidelity.logic import (
    COMPUTED,
    HOLD,
    OFFSET,
    PARTS,
    Link,
    Rule,
    expected,
    factor,
    family,
    measure,
    parent_rows,
    plain,
    scaled,
    zoned,
)

# Rows a rule must apply to before it is believed.
MIN_ROWS = 20
# Sample sizes of the candidate searches.
FINGERPRINT_ROWS = 64
ORDER_ROWS = 512
# Candidates of each kind verified on all rows, and rules kept per table.
MAX_VERIFY = 300
MAX_RULES = 64
# A determining value is mapped only when it is seen this often (privacy, as for categories).
MIN_GROUP = 5
# Time zones tried first when parts are local and the datetime is not (then all others).
COMMON_ZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "Asia/Tokyo",
    "Asia/Shanghai",
    "Asia/Kolkata",
    "Australia/Sydney",
    "America/Sao_Paulo",
)
# Columns (the fewest-valued) whose pairs are tried as determinants.
MAX_PAIR_COLUMNS = 24
PAIR_BUDGET = 60_000_000
# Divisors tried for a = b // k and a = b % k (HHMM times, hours and minutes, digits).
DIVISORS = (10, 100, 1000, 10000, 60, 24, 3600)
# Time offsets are stored in the largest of these units (microseconds) that divides them all.
_UNITS = (86400e6, 3600e6, 60e6, 1e6, 1e3, 1.0)
_SENTINEL = np.float64(1.2345678e300)


@dataclass
class ParentRef:
    """A parent of the table: its name, the foreign key and the parent row of every row."""

    name: str
    fk: list[str]
    key: list[str]
    link: Link


class Columns:
    """The table's columns with cached conversions (codes, float values) and fixed samples."""

    def __init__(self, columns: dict[str, pa.Array], ticks: dict[str, tuple[str, float]], seed):
        self.arrays = {n: plain(a) for n, a in columns.items()}
        self.names = list(self.arrays)
        self.position = {n: i for i, n in enumerate(self.names)}
        self.n = len(next(iter(self.arrays.values()))) if self.arrays else 0
        # columns whose family and ticks are given (derived sequence starts, in their child's
        # order column's units)
        self.ticks = ticks
        self.rng = np.random.default_rng([seed, 7])
        self._floats: dict[str, np.ndarray] = {}
        self._codes: dict[str, tuple[np.ndarray, pa.Array] | None] = {}

    def family(self, name: str) -> str | None:
        if name in self.ticks:
            return self.ticks[name][0]
        return family(self.arrays[name].type)

    def factor(self, name: str) -> float:
        return self.ticks[name][1] if name in self.ticks else factor(self.arrays[name].type)

    def floats(self, name: str) -> np.ndarray:
        if name not in self._floats:
            self._floats[name] = scaled(self.arrays[name], self.factor(name))
        return self._floats[name]

    def codes(self, name: str) -> tuple[np.ndarray, pa.Array] | None:
        """Dense codes of every row (nulls a code of their own) and the coded values."""
        if name not in self._codes:
            try:
                encoded = pc.dictionary_encode(self.arrays[name], null_encoding="encode")
                self._codes[name] = (
                    encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64),
                    encoded.dictionary,
                )
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
                self._codes[name] = None
        return self._codes[name]

    def sampled(self, name: str, rows: np.ndarray) -> np.ndarray:
        """Float values of some rows (nothing cached: wide, long tables stay small)."""
        return scaled(self.arrays[name].take(pa.array(rows)), self.factor(name))

    def sampled_codes(self, name: str, rows: np.ndarray) -> np.ndarray | None:
        """Dense codes of some rows (nulls a code of their own); None when not encodable."""
        try:
            sample = self.arrays[name].take(pa.array(rows))
            encoded = pc.dictionary_encode(sample, null_encoding="encode")
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            return None
        return encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)

    def sample(self, size: int) -> np.ndarray:
        return np.sort(self.rng.choice(self.n, size=min(size, self.n), replace=False))


def detect(
    columns: dict[str, pa.Array],
    dependents: set[str],
    parents: list[ParentRef],
    *,
    ticks: dict[str, tuple[str, float]] | None = None,
    seed: int = 0,
    notes: list[str] | None = None,
) -> list[Rule]:
    """The rules ``columns`` hold, in the order they must be applied.

    Only columns in ``dependents`` are computed from others; columns in ``ticks`` (family and
    microseconds per unit) may only be the later side of an order rule. A search that fails on
    a column type is skipped, with the reason appended to ``notes``.
    """
    ticks = ticks or {}
    table = Columns(columns, ticks, seed)
    if table.n < MIN_ROWS:
        return []
    real = {d for d in dependents if d in table.arrays and d not in ticks}
    searches = (
        ("copy", lambda: _copies(table, real, parents)),
        ("datetime", lambda: _datetimes(table, real)),
        ("identity", lambda: _identities(table, real)),
        ("dependency", lambda: _dependencies(table, real)),
        ("order", lambda: _orders(table, real | set(ticks), parents)),
    )
    found = []
    for kind, search in searches:
        # rules are an addition to the model: a column type a search cannot handle skips
        # that search (and says so in the fitted state), it never fails the training
        try:
            found += search()
        except (pa.ArrowException, ValueError, TypeError, OverflowError) as exc:
            if notes is not None:
                notes.append(f"{kind} rules not searched: {type(exc).__name__}: {exc}")
    rules = _acyclic(found)[:MAX_RULES]
    for rule in rules:
        if rule.kind in COMPUTED:
            rule.nulls, rule.filled = _missing_where_inputs_are(rule, table)
    return rules


def _missing_where_inputs_are(rule: Rule, table: Columns) -> tuple[bool, bool]:
    """Whether the dependent is missing (nearly) wherever an input is, and present (nearly)
    wherever every input is (then computed there, whatever the model left missing)."""
    _, applies = expected(rule, table.arrays, {})
    missing = ~table.arrays[rule.column].is_valid().to_numpy(zero_copy_only=False)
    lacking = ~applies
    nulls = bool(lacking.any() and missing[lacking].mean() >= HOLD)
    filled = bool(applies.any() and missing[applies].mean() <= 1 - HOLD)
    return nulls, filled


def offsets(rules: list[Rule], columns: dict[str, pa.Array], parents: list[ParentRef]):
    """The derived offset column of every order rule (what the chain learns), by name."""
    by_name = {p.name: p.link for p in parents}
    out = {}
    for rule in rules:
        if rule.kind != "order":
            continue
        dependent = scaled(columns[rule.column], rule.factors[0])
        base = _base(rule, columns, by_name)
        out[rule.offset] = pa.array((dependent - base) * rule.sign / rule.scale, from_pandas=True)
    return out


def _base(rule: Rule, columns, links: dict[str, Link]) -> np.ndarray:
    if rule.parent is None:
        return scaled(columns[rule.inputs[0]], rule.factors[1])
    link = links[rule.parent]
    values = scaled(link.columns[rule.inputs[0]], rule.factors[1])
    return np.where(link.row >= 0, values[np.maximum(link.row, 0)], np.nan)


# -- fingerprints -------------------------------------------------------------------------------


def _fingerprint(matrix: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """A 64-bit hash of every column of a (rows x columns) float matrix; NaN hashes as one
    value, -0.0 as 0.0."""
    values = np.where(np.isnan(matrix), _SENTINEL, matrix) + 0.0
    bits = np.ascontiguousarray(values).view(np.uint64)
    return (bits * weights[:, None]).sum(axis=0, dtype=np.uint64)


def _weights(rows: int, rng) -> np.ndarray:
    return rng.integers(1, 2**63, size=rows, dtype=np.uint64) | np.uint64(1)


def _decimals(values: np.ndarray) -> int:
    """The fewest decimals (0..9) that represent the values exactly (within 1e-9)."""
    finite = values[np.isfinite(values)]
    for d in range(10):
        if np.all(np.abs(finite - np.round(finite, d)) <= 1e-9 * np.maximum(1, np.abs(finite))):
            return d
    return 9


# -- functional dependencies --------------------------------------------------------------------


def _dependencies(table: Columns, dependents: set[str]) -> list[Rule]:
    """A -> B (or (A1, A2) -> B): every value of A seen at least MIN_GROUP times goes with one
    value of B."""
    size = int(min(table.n, max(1000, 300_000 // max(len(table.names), 1))))
    rows = table.sample(size)
    sampled = {n: table.sampled_codes(n, rows) for n in table.names}
    names = [n for n, c in sampled.items() if c is not None]
    if len(names) < 2:
        return []
    codes = np.stack([sampled[n] for n in names], axis=1)
    distinct = np.array([len(np.unique(codes[:, j])) for j in range(len(names))])
    top = np.array([np.bincount(codes[:, j]).max() for j in range(len(names))]) / len(rows)
    target = np.array([n in dependents for n in names]) & (distinct >= 2) & (top <= 0.98)
    keys = [a for a in range(len(names)) if 2 <= distinct[a] <= len(rows) / 10]
    candidates = []
    for a in keys:
        for b in np.flatnonzero(_determined(codes, codes[:, a], target)):
            if b != a:
                candidates.append(((names[a],), names[b]))
    # pairs of the fewest-valued columns determine what no single column does
    single = {b for _, b in candidates}
    rest = target & ~np.isin(names, list(single))
    left = np.flatnonzero(rest)
    # pairs cost rows x columns each: at most PAIR_BUDGET code comparisons in all
    budget = PAIR_BUDGET // max(len(rows) * len(left), 1)
    count = int(min(MAX_PAIR_COLUMNS, (1 + np.sqrt(1 + 8 * budget)) // 2))
    few = sorted(keys, key=lambda a: distinct[a])[:count]
    undetermined, every = codes[:, left], np.ones(len(left), bool)
    for i, a1 in enumerate(few):
        for a2 in few[i + 1 :]:
            pair = codes[:, a1] * (codes[:, a2].max() + 1) + codes[:, a2]
            if not len(left) or len(np.unique(pair)) > len(rows) / 10:
                continue
            for k in np.flatnonzero(_determined(undetermined, pair, every)):
                if left[k] not in (a1, a2):
                    candidates.append(((names[a1], names[a2]), names[left[k]]))
    rules = []
    for inputs, b in candidates[:MAX_VERIFY]:
        rule = _verify_dependency(table, list(inputs), b)
        if rule is not None:
            rules.append(rule)
    # of columns that determine each other, the later column is the dependent one; single
    # determinants before pairs
    rules.sort(
        key=lambda r: (len(r.inputs), table.position[r.inputs[0]] > table.position[r.column])
    )
    return rules


def _determined(codes: np.ndarray, key: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per column: whether the sampled key determines it (all but 0.2% of the rows)."""
    order = np.argsort(key, kind="stable")
    sorted_codes = codes[order]
    grouped = key[order][1:] == key[order][:-1]
    changes = ((sorted_codes[1:] != sorted_codes[:-1]) & grouped[:, None]).sum(axis=0)
    return target & (changes <= int(0.002 * len(key)))


def _verify_dependency(table: Columns, inputs: list[str], b: str) -> Rule | None:
    coded = [table.codes(a) for a in inputs]
    code_a = coded[0][0]
    if len(coded) > 1:
        combined = code_a * len(coded[1][1]) + coded[1][0]
        _, code_a = np.unique(combined, return_inverse=True)
    code_b, values_b = table.codes(b)
    sizes = np.bincount(code_a)
    covered = sizes[code_a] >= MIN_GROUP
    if covered.mean() < 0.5:
        return None
    pairs = code_a[covered] * len(values_b) + code_b[covered]
    unique, counts = np.unique(pairs, return_counts=True)
    groups = unique // len(values_b)
    best = np.zeros(len(sizes), np.int64)
    np.maximum.at(best, groups, counts)
    share = best.sum() / covered.sum()
    if share < HOLD:
        return None
    # the most frequent B of every mapped A value (sorted by count, the last one per group wins)
    by_count = np.argsort(counts, kind="stable")
    mode = np.full(len(sizes), -1, np.int64)
    mode[groups[by_count]] = (unique % len(values_b))[by_count]
    mapped = np.flatnonzero((sizes >= MIN_GROUP) & (mode >= 0))
    first = np.zeros(len(sizes), np.int64)
    first[code_a[::-1]] = np.arange(len(code_a))[::-1]  # a row of every group
    names = ["key"] if len(inputs) == 1 else [f"key{i}" for i in range(len(inputs))]
    mapping = {
        name: values.take(pa.array(codes[first[mapped]]))
        for name, (codes, values) in zip(names, coded, strict=True)
    }
    mapping["value"] = values_b.take(pa.array(mode[mapped]))
    if len(inputs) > 1:  # how often each tuple occurs, to redraw unseen combinations by
        mapping["rows"] = pa.array(sizes[mapped], pa.int64())
    return Rule("dependency", b, list(inputs), float(share), mapping=pa.table(mapping))


# -- arithmetic identities ----------------------------------------------------------------------


def _identities(table: Columns, dependents: set[str]) -> list[Rule]:
    """a = b + c, a = b - c, a = b * c between numeric columns; a = b // k and a = b % k for
    round divisors k (hours of an HHMM time); a = minutes from c to b for HHMM times."""
    names = [n for n in table.names if table.family(n) == "num"]
    if len(names) < 2:
        return []
    candidates: set[tuple] = set()
    for _ in range(2):  # two samples: a rare exception in one sample does not hide a rule
        candidates |= _identity_candidates(table, names, dependents)
    rules = []
    for a, op, inputs, constant in sorted(candidates)[:MAX_VERIFY]:
        decimals = _decimals(table.floats(a))
        rule = Rule("identity", a, list(inputs), 0.0, op=op, decimals=decimals, constant=constant)
        if op == "clock":  # differences of clock times are known modulo a day
            rule.constant = float(np.nanmin(table.floats(a)))
        share = measure(rule, table.arrays, {})
        if share is not None and share >= HOLD and _applies(rule, table) >= MIN_ROWS:
            rule.share = share
            rules.append(rule)
            if op == "clock":  # the later time from the earlier one and the minutes between
                rules.extend(_later_time(rule, table))
    return _best_form_first(_recompose(rules, table), table)


def _later_time(rule: Rule, table: Columns) -> list[Rule]:
    """``late = early + a minutes`` for a verified ``a = minutes from early to late``."""
    late, early = rule.inputs
    inverse = Rule("identity", late, [early, rule.column], 0.0, op="clock+")
    share = measure(inverse, table.arrays, {})
    if share is None or share < HOLD:
        return []
    inverse.share = share
    return [inverse]


def _recompose(rules: list[Rule], table: Columns) -> list[Rule]:
    """``b = a * k + c`` in place of ``a = b // k`` and ``c = b % k`` (an HHMM time from its
    hour and minute): the parts stay free to follow other rules (an hour copied from a parent)."""
    out = list(rules)
    quotients = {(r.inputs[0], r.constant): r for r in rules if r.op == "//"}
    for rest in [r for r in rules if r.op == "%"]:
        quotient = quotients.get((rest.inputs[0], rest.constant))
        if quotient is None:
            continue
        whole = Rule(
            "identity",
            rest.inputs[0],
            [quotient.column, rest.column],
            0.0,
            op="*+",
            constant=rest.constant,
            decimals=_decimals(table.floats(rest.inputs[0])),
        )
        share = measure(whole, table.arrays, {})
        if share is not None and share >= HOLD:
            whole.share = share
            out = [r for r in out if r not in (quotient, rest)] + [whole]
    return out


def _identity_candidates(table: Columns, names: list[str], dependents: set[str]) -> set:
    rows = table.sample(FINGERPRINT_ROWS)
    matrix = np.stack([table.sampled(n, rows) for n in names], axis=1)
    weights = _weights(len(rows), table.rng)
    decimals = np.array([_decimals(matrix[:, j]) for j in range(len(names))])
    constant = np.array([len(np.unique(col[~np.isnan(col)])) < 2 for col in matrix.T])
    targets = {}
    for j, name in enumerate(names):
        if name in dependents and not constant[j]:
            d = int(decimals[j])
            column = np.round(matrix[:, [j]], d)
            targets.setdefault(d, {}).setdefault(int(_fingerprint(column, weights)[0]), []).append(
                j
            )
    if not targets:
        return set()
    found = _binary_candidates(matrix, names, targets, weights)
    found |= _divisor_candidates(matrix, names, targets.get(0, {}), weights)
    found |= _clock_candidates(matrix, names, decimals, constant, dependents)
    return found


def _matches(results: np.ndarray, targets: dict, weights: np.ndarray):
    """(result column, target column) pairs whose sampled values are equal, at every target's
    decimals."""
    for d, by_hash in targets.items():
        known = np.sort(np.array(list(by_hash), np.uint64))
        hashes = _fingerprint(np.round(results, d), weights)
        spot = np.minimum(np.searchsorted(known, hashes), len(known) - 1)
        for k in np.flatnonzero(known[spot] == hashes):
            for t in by_hash[int(hashes[k])]:
                yield int(k), t


def _binary_candidates(matrix, names, targets, weights) -> set:
    zero = np.all(np.nan_to_num(matrix) == 0, axis=0)
    one = np.all(matrix == 1, axis=0)
    ops = ("+", "-", "-r", "*")
    found = set()
    for i in range(len(names) - 1):
        left, right = matrix[:, [i]], matrix[:, i + 1 :]
        results = np.concatenate([left + right, left - right, right - left, left * right], axis=1)
        for k, t in _matches(results, targets, weights):
            op, j = ops[k // right.shape[1]], i + 1 + k % right.shape[1]
            if t in (i, j) or zero[i] or zero[j] or (op == "*" and (one[i] or one[j])):
                continue
            b, c = (names[j], names[i]) if op == "-r" else (names[i], names[j])
            found.add((names[t], op[0], (b, c), 0.0))
    return found


def _divisor_candidates(matrix, names, targets, weights) -> set:
    """a = b // k and a = b % k; not when b is already below k (a copy, not a part)."""
    found = set()
    if not targets:
        return found
    for k in DIVISORS:
        results = np.concatenate([np.floor(matrix / k), np.mod(matrix, k)], axis=1)
        for index, t in _matches(results, {0: targets}, weights):
            op, j = ("//", "%")[index // len(names)], index % len(names)
            if t != j and np.nanmax(np.abs(matrix[:, j]), initial=0) >= k:
                found.add((names[t], op, (names[j],), float(k)))
    return found


def _clock_candidates(matrix, names, decimals, constant, dependents) -> set:
    """a = minutes from c to b, for b and c HHMM times (0..2400, minutes below 60)."""
    clock = [
        j
        for j in range(len(names))
        if decimals[j] == 0
        and not constant[j]
        and np.all(np.nan_to_num(matrix[:, j]) >= 0)
        and np.nanmax(matrix[:, j], initial=0) <= 2400
        and np.mean(matrix[:, j] >= 100) > 0.3
        and np.all(np.nan_to_num(np.mod(matrix[:, j], 100)) < 60)
    ]
    minutes = np.floor(matrix / 100) * 60 + np.mod(matrix, 100)
    found = set()
    for b in clock:
        for c in clock:
            if b == c:
                continue
            gap = (minutes[:, b] - minutes[:, c])[:, None]
            valid = ~np.isnan(gap) & ~np.isnan(matrix)
            agree = np.where(valid, np.mod(matrix - gap, 1440) == 0, True).all(axis=0)
            for t in np.flatnonzero(agree & (valid.sum(axis=0) >= 10) & (decimals == 0)):
                if t not in (b, c) and names[t] in dependents and not constant[t]:
                    found.add((names[t], "clock", (names[b], names[c]), 0.0))
    return found


def _applies(rule: Rule, table: Columns) -> int:
    return int(np.sum(np.all([~np.isnan(table.floats(c)) for c in rule.inputs], axis=0)))


def _best_form_first(rules: list[Rule], table: Columns) -> list[Rule]:
    """The forms of each identity (a = b + c, b = a - c, ...), preferred first: the one whose
    dependent has the widest spread, then the last of the three columns. The chain learns the
    other two: the difference of two wide, closely related columns (a delay between two clock
    times) is learned far better directly than as the difference of two learned values.
    ``_acyclic`` keeps the first form whose dependent is free (one that another rule computes
    already, say an HHMM time from its hour and minute, leaves the identity to its next form).
    """
    rules.sort(key=lambda r: (-_spread(table, r.column), -table.position[r.column]))
    return rules


def _identity_key(rule: Rule) -> tuple | None:
    """What the forms of one identity share: its columns and the family of its operation."""
    if rule.kind != "identity":
        return None
    op = "+" if rule.op in ("+", "-") else "clock" if rule.op.startswith("clock") else rule.op
    return frozenset([rule.column, *rule.inputs]), op


def _spread(table: Columns, name: str) -> float:
    """The interquartile range of a numeric column (its standard deviation when that is 0)."""
    values = table.floats(name)
    values = values[~np.isnan(values)]
    if not len(values):
        return 0.0
    low, high = np.percentile(values, [25, 75])
    return float(high - low) or float(np.std(values))


# -- datetime parts -----------------------------------------------------------------------------


def _datetimes(table: Columns, dependents: set[str]) -> list[Rule]:
    """Integer columns that are parts (year .. second) of a date or datetime column."""
    temporal = [n for n in table.names if table.family(n) == "time" and n not in table.ticks]
    integers = [n for n in table.names if table.family(n) == "num"]
    if not temporal or not integers:
        return []
    samples = []
    for _ in range(2):  # two samples: a rare exception in one sample does not hide a part
        rows = table.sample(FINGERPRINT_ROWS)
        weights = _weights(len(rows), table.rng)
        matrix = np.stack([table.sampled(n, rows) for n in integers], axis=1)
        samples.append((rows, weights, _fingerprint(matrix, weights)))
    rules = []
    for name in temporal:
        zone = ""
        parts = _parts_of(table, name, integers, samples, zone)
        if "hour" not in parts and pa.types.is_timestamp(table.arrays[name].type):
            zone = _zone_of(table, name, integers, samples[0])
            parts = _parts_of(table, name, integers, samples, zone) if zone else parts
        rules += _datetime_rules(table, name, parts, dependents, zone)
    return rules


def _parts_of(table: Columns, name: str, integers: list[str], samples, zone: str) -> dict:
    """The columns holding each part of a datetime column (seen in ``zone`` when given),
    verified on all rows."""
    dtype = table.arrays[name].type
    parts = PARTS[:3] if pa.types.is_date(dtype) else PARTS
    found: dict[str, str] = {}
    for rows, weights, hashes in samples:
        sample = zoned(table.arrays[name].take(pa.array(rows)), zone)
        for part in parts:
            if part in found:
                continue
            values = scaled(getattr(pc, part)(sample), 1.0)
            target = _fingerprint(values[:, None], weights)[0]
            for j in np.flatnonzero(hashes == target):
                rule = Rule(
                    "datetime", integers[j], [name], 0.0, op="extract", parts=[part], zone=zone
                )
                share = measure(rule, table.arrays, {})
                if share is not None and share >= HOLD:
                    found[part] = integers[j]
                    break
    return found


def _zone_of(table: Columns, name: str, integers: list[str], sample) -> str:
    """The time zone in which an hour column reads a datetime column (UTC instants with local
    parts, as warehouses keep them); "" when none does."""
    import zoneinfo

    rows = sample[0]
    instants = zoned(table.arrays[name].take(pa.array(rows)), "UTC")
    utc = scaled(pc.hour(instants), 1.0)
    hours = []
    for column in integers:
        values = table.sampled(column, rows)
        valid = ~np.isnan(values) & ~np.isnan(utc)
        shifts = np.unique(np.mod(values[valid] - utc[valid], 24))
        if valid.sum() >= 10 and np.all(values[valid] <= 23) and 1 <= len(shifts) <= 2:
            hours.append((values, valid))
    if not hours:
        return ""
    names = [z for z in COMMON_ZONES if z in zoneinfo.available_timezones()]
    names += sorted(zoneinfo.available_timezones() - set(names))
    for zone in names:
        try:
            local = scaled(pc.hour(zoned(instants, zone)), 1.0)
        except (pa.ArrowException, ValueError):
            continue
        if any(np.array_equal(values[valid], local[valid]) for values, valid in hours):
            return zone
    return ""


def _datetime_rules(
    table: Columns, name: str, parts: dict[str, str], dependents: set[str], zone: str
) -> list[Rule]:
    """The datetime from its parts when they describe it fully, else each part from it."""
    if not parts:
        return []
    if name in dependents and {"year", "month", "day"} <= set(parts):
        rule = Rule(
            "datetime",
            name,
            list(parts.values()),
            0.0,
            op="compose",
            parts=list(parts),
            zone=zone,
        )
        share = measure(rule, table.arrays, {})
        if share is not None and share >= HOLD:
            rule.share = share
            return [rule]
    rules = []
    for part, column in parts.items():
        if column in dependents:
            rule = Rule("datetime", column, [name], 0.0, op="extract", parts=[part], zone=zone)
            rule.share = measure(rule, table.arrays, {}) or 0.0
            rules.append(rule)
    return rules


# -- copies of parent columns -------------------------------------------------------------------


def _copies(table: Columns, dependents: set[str], parents: list[ParentRef]) -> list[Rule]:
    """Child columns equal to their parent row's column."""
    rules = []
    for parent in parents:
        found = np.flatnonzero(parent.link.row >= 0)
        if len(found) < MIN_ROWS:
            continue
        rows = np.sort(table.rng.choice(found, min(FINGERPRINT_ROWS, len(found)), replace=False))
        parent_rows_ = pa.array(parent.link.row[rows])
        child = {
            _signature(table.arrays[n].take(pa.array(rows))): n
            for n in table.names
            if n in dependents and n not in parent.fk
        }
        for name, array in parent.link.columns.items():
            column = child.get(_signature(plain(array).take(parent_rows_)))
            if column is None:
                continue
            rule = Rule(
                "copy",
                column,
                [name],
                0.0,
                parent=parent.name,
                fk=list(parent.fk),
                parent_key=list(parent.key),
            )
            share = measure(rule, table.arrays, {parent.name: parent.link})
            if share is not None and share >= HOLD:
                rule.share = share
                rules.append(rule)
    return rules


def _signature(sample: pa.Array) -> tuple | None:
    """Values of a sample as a hashable tuple (numbers and times in microseconds); None for a
    constant sample, whose copies say nothing."""
    kind = family(sample.type)
    values = tuple(scaled(sample)) if kind else tuple(map(str, sample.to_pylist()))
    if len(set(values)) < 2:
        return None
    return (kind, values)


# -- orders ------------------------------------------------------------------------------------


def _orders(table: Columns, dependents: set[str], parents: list[ParentRef]) -> list[Rule]:
    """end >= start within a row, and a child value after (or before) its parent's."""
    ordered = [n for n in table.names if table.family(n) in ("num", "time", "clock")]
    rows = table.sample(ORDER_ROWS)
    sources = [(n, None, table.sampled(n, rows), table.factor(n), table.family(n)) for n in ordered]
    for parent in parents:
        for name, array in parent.link.columns.items():
            kind = family(plain(array).type)
            if kind is None:
                continue
            row = parent.link.row[rows]
            values = scaled(plain(array).take(pa.array(np.maximum(row, 0))))
            aligned = np.where(row >= 0, values, np.nan)
            sources.append((name, parent, aligned, factor(plain(array).type), kind))
    if not sources:
        return []
    matrix = np.stack([s[2] for s in sources], axis=1)
    rolled = np.roll(matrix, len(rows) // 2, axis=0)  # pairs that chance puts together
    kinds = np.array([s[4] for s in sources])
    rules: dict[str, Rule] = {}
    tightness: dict[str, float] = {}
    verified = 0
    for dependent in ordered:
        if dependent not in dependents or verified > MAX_VERIFY:
            continue
        for rule in _order_candidates(table, dependent, sources, rows, matrix, rolled, kinds):
            verified += 1
            rule.share = measure(rule, table.arrays, {p.name: p.link for p in parents}) or 0.0
            if rule.share < HOLD:
                continue
            gap = _gap(rule, table, parents)
            if gap is not None and gap < tightness.get(dependent, np.inf):
                rules[dependent], tightness[dependent] = rule, gap
    return list(rules.values())


def _order_candidates(
    table: Columns, dependent: str, sources, rows, matrix, rolled, kinds
) -> list[Rule]:
    """Order rules on ``dependent`` that its sample holds and that chance would not."""
    y = table.floats(dependent)[rows][:, None]
    valid = ~np.isnan(matrix) & ~np.isnan(y)
    count = np.maximum(valid.sum(axis=0), 1)
    diff = np.where(valid, y - np.nan_to_num(matrix), np.nan)
    by_chance = ~np.isnan(rolled) & ~np.isnan(y)
    chance = np.where(by_chance, y - np.nan_to_num(rolled), np.nan)
    chance_count = np.maximum(by_chance.sum(axis=0), 1)
    usable = (
        (kinds == table.family(dependent))
        & (valid.sum(axis=0) >= min(MIN_ROWS, len(rows)))
        & ((diff == 0).sum(axis=0) / count < 0.99)  # equal values: a copy, not an order
    )
    out = []
    # within a row the later column follows the earlier one; a child may precede its parent
    for sign in (1, -1):
        holds = (diff * sign >= 0).sum(axis=0) / count >= 0.99
        luck = (chance * sign >= 0).sum(axis=0) / chance_count <= 0.95
        for j in np.flatnonzero(usable & holds & luck):
            name, parent, _, ticks, _ = sources[j]
            if (parent is None and (sign < 0 or name == dependent)) or len(out) >= 8:
                continue
            out.append(
                Rule(
                    "order",
                    dependent,
                    [name],
                    0.0,
                    sign=sign,
                    factors=[table.factor(dependent), ticks],
                    parent=parent.name if parent else None,
                    fk=list(parent.fk) if parent else [],
                    parent_key=list(parent.key) if parent else [],
                )
            )
    return out


def _gap(rule: Rule, table: Columns, parents: list[ParentRef]) -> float | None:
    """The median offset of an order rule (the tightest bound is kept); sets its scale."""
    base = _base(rule, table.arrays, {p.name: p.link for p in parents})
    offset = (table.floats(rule.column) - base) * rule.sign
    offset = offset[~np.isnan(offset)]
    if not len(offset):
        return None
    if table.family(rule.column) != "num":
        rule.scale = next((u for u in _UNITS if np.all(np.mod(offset, u) == 0)), 1e-3)
    return float(np.median(offset))


# -- choosing rules -----------------------------------------------------------------------------


def _acyclic(rules: list[Rule]) -> list[Rule]:
    """One rule per dependent column, no column computed from itself, in application order."""
    chosen: dict[str, Rule] = {}
    identities: set[tuple] = set()  # one form of each identity
    for rule in rules:
        if rule.column in chosen or rule.column.startswith(OFFSET):
            continue
        key = _identity_key(rule)
        if key is not None and key in identities:
            continue
        inputs = [] if rule.parent else rule.inputs
        if any(_derives(chosen, i, rule.column) for i in inputs):
            continue
        chosen[rule.column] = rule
        if key is not None:
            identities.add(key)
    ordered, done = [], set()

    def visit(column: str):
        rule = chosen.get(column)
        if rule is None or column in done:
            return
        done.add(column)
        for i in [] if rule.parent else rule.inputs:
            visit(i)
        ordered.append(rule)

    for column in chosen:
        visit(column)
    return ordered


def _derives(chosen: dict[str, Rule], column: str, target: str) -> bool:
    """Whether ``column`` is ``target`` or is computed (transitively) from it."""
    stack, seen = [column], set()
    while stack:
        current = stack.pop()
        if current == target:
            return True
        rule = chosen.get(current)
        if rule is None or current in seen or rule.parent:
            continue
        seen.add(current)
        stack.extend(rule.inputs)
    return False


# -- fitting a table ----------------------------------------------------------------------------


def fit_rules(
    table, columns: dict[str, pa.Array], arrow: pa.Table, rows, meta: dict, data, state, prefix: str
) -> dict[str, pa.Array]:
    """Find a table's rules at fit time and store them in the fitted state (``meta["logic"]``,
    mappings as tables); returns the offset columns of order rules, for the chain to learn.

    ``columns`` are the modelled columns (in sequence order when ``rows`` arranges them),
    including the derived sequence starts of child tables.
    """
    from synthpipe.generators.fidelity.fitting import FIRST, sequence_order_column

    config = data.config

    def arranged(name: str) -> pa.Array:
        array = arrow.column(name).combine_chunks()
        return array if rows is None else array.take(pa.array(rows, pa.int64()))

    values = {n: a for n, a in columns.items() if not n.startswith("__")}
    order = meta.get("order")
    if order:
        values[order] = arranged(order)
    ticks = {}
    for name in columns:
        if name.startswith(FIRST + "."):
            child = config.table(name[len(FIRST) + 1 :])
            schema = data.tables[child.name].schema
            dtype = schema.field(sequence_order_column(child, schema)).type
            ticks[name] = (family(dtype) or "num", factor(dtype))
            values[name] = columns[name]
    parents = _parent_refs(table, arranged, config, data)
    keys = {c for p in parents for c in p.fk}
    for fk in table.foreign_keys:  # real lookup keys (airports, carriers) determine values too
        if config.table(fk.referenced_table).original_data:
            for column in fk.columns:
                if column not in values and column in arrow.column_names:
                    values[column] = arranged(column)
    dependents = set(values) - {order} - keys - set(ticks)
    seed = config.settings(table).seed or 0
    notes: list[str] = []
    rules = detect(values, dependents, parents, ticks=ticks, seed=seed, notes=notes)
    meta["logic"] = {"rules": [r.to_meta() for r in rules], "notes": notes}
    for i, rule in enumerate(rules):
        if rule.mapping is not None:
            state.tables[f"{prefix}.logic{i}"] = rule.mapping
    return offsets(rules, values, parents)


def _parent_refs(table, arranged, config, data) -> list[ParentRef]:
    """Every parent with training rows: the parent row of each (arranged) row."""
    refs = []
    for fk in table.foreign_keys:
        parent = config.table(fk.referenced_table)
        arrow = data.tables.get(parent.name)
        key = fk.referenced_columns or parent.primary_key
        if arrow is None or not key or not all(k in arrow.column_names for k in key):
            continue
        try:
            row = parent_rows(
                [arranged(c) for c in fk.columns], [arrow.column(k).combine_chunks() for k in key]
            )
        except (pa.ArrowException, ValueError, TypeError):
            continue  # keys Arrow cannot join: no rules between this table and that parent
        hidden = {c.name for c in parent.columns or [] if c.sensitive}
        columns = {
            n: arrow.column(n).combine_chunks() for n in arrow.column_names if n not in hidden
        }
        refs.append(ParentRef(parent.name, list(fk.columns), list(key), Link(row, columns)))
    return refs
