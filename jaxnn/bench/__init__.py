"""Accelerator benchmarking (ParaDnn style): model families swept over backends and precisions.

``jaxnn bench`` runs :func:`run_sweep` over a grid (:data:`QUICK`, :data:`FULL` or a TOML
file) and writes JSON records (schema in :mod:`jaxnn.bench.records`), CSV and a markdown table;
:func:`compare` puts two runs side by side; :mod:`jaxnn.bench.plots` draws the roofline and
examples/s against batch size.
"""

from jaxnn.bench.compare import compare, compare_markdown
from jaxnn.bench.cost import (
    compiled_cost,
    estimate_memory,
    measured_peak_flops,
    vendor_peak_flops,
)
from jaxnn.bench.families import FAMILIES, PRECISIONS, build, check_config, resolve_precision
from jaxnn.bench.grid import FULL, QUICK, expand, load_grid
from jaxnn.bench.measure import measure
from jaxnn.bench.records import (
    Records,
    load_records,
    precision_of,
    save_records,
    to_csv,
    to_markdown,
)
from jaxnn.bench.sweep import (
    DTYPES,
    add_speedups,
    check_dtype,
    check_precision,
    resolve_backends,
    run_sweep,
)
from jaxnn.bench.timing import Timing, time_calls, time_once

__all__ = [
    "DTYPES",
    "FAMILIES",
    "FULL",
    "PRECISIONS",
    "QUICK",
    "Timing",
    "add_speedups",
    "build",
    "check_config",
    "check_dtype",
    "check_precision",
    "compare",
    "compare_markdown",
    "compiled_cost",
    "estimate_memory",
    "expand",
    "load_grid",
    "Records",
    "load_records",
    "measure",
    "measured_peak_flops",
    "precision_of",
    "resolve_backends",
    "resolve_precision",
    "run_sweep",
    "save_records",
    "time_calls",
    "time_once",
    "to_csv",
    "to_markdown",
    "vendor_peak_flops",
]
