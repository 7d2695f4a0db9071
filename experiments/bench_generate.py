"""Tokens per second of sampling from a character transformer, with the key/value cache and without.

The model is experiments/char_lm.py's (``char_transformer(V, max_length=128, width=128,
num_heads=4, layers=2)``; the weights do not change the time, so they are freshly drawn).
``jaxnn.lm.make_sampler(model, steps=S, use_cache=...)`` compiles one ``lax.scan`` of ``S``
decode steps under one ``jax.jit``: with the cache each step runs the model on the new token
only (keys and values of the earlier positions are kept per block); without it each step
reruns ``model.apply`` on the whole padded sequence of ``P + S`` tokens. For each batch size and
number of steps, both are compiled (timed apart), then timed ``--repeats`` times each,
interleaved, after one warm-up call, with ``jax.block_until_ready``; the figure is the median
of the generated tokens (batch x steps) per second. The two must generate the same tokens for
one key (checked). Writes a section to ``--out``.

    python experiments/bench_generate.py --repeats 5 --out docs/benchmarks.md   # about 3 min
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxnn.lm import char_transformer, make_sampler

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import versions, write_section  # noqa: E402

VOCAB = 103  # the distinct characters of python_docs on CPython 3.11


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--width", type=int, default=128)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--prompt-length", type=int, default=16)
    p.add_argument("--steps", type=int, nargs="+", default=[32, 112])
    p.add_argument("--batch", type=int, nargs="+", default=[1, 16])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", type=Path)
    return p.parse_args(argv)


def timed(fn, *args) -> float:
    start = time.perf_counter()
    jax.block_until_ready(fn(*args))
    return time.perf_counter() - start


def run_case(model, params, state, batch: int, steps: int, args) -> dict:
    prompt = jnp.asarray(
        np.random.default_rng(0).integers(0, VOCAB, (batch, args.prompt_length)), jnp.int32
    )
    key = jax.random.key(0)
    samplers = {
        cached: make_sampler(model, steps=steps, temperature=1.0, top_k=20, use_cache=cached)
        for cached in (True, False)
    }
    compile_s = {cached: timed(s, params, state, prompt, key) for cached, s in samplers.items()}
    same = bool(
        jnp.array_equal(
            samplers[True](params, state, prompt, key), samplers[False](params, state, prompt, key)
        )
    )
    times: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(args.repeats):  # interleaved: a load change hits both
        for cached, s in samplers.items():
            times[cached].append(timed(s, params, state, prompt, key))
    tokens = batch * steps
    return {
        "batch": batch,
        "steps": steps,
        "same": same,
        "compile_s": compile_s,
        "median_s": {c: statistics.median(t) for c, t in times.items()},
        "spread": {c: (max(t) - min(t)) / statistics.median(t) for c, t in times.items()},
        "tokens_per_s": {c: tokens / statistics.median(t) for c, t in times.items()},
    }


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    model = char_transformer(
        VOCAB,
        max_length=args.max_length,
        width=args.width,
        num_heads=args.heads,
        layers=args.layers,
    )
    _, params, state = model.init(jax.random.key(0), (-1, args.max_length))
    rows = []
    for batch in args.batch:
        for steps in args.steps:
            row = run_case(model, params, state, batch, steps, args)
            print(row, flush=True)
            rows.append(row)
    count = sum(int(np.prod(a.shape)) for a in jax.tree.leaves(params))
    section = render(rows, args, count, argv if argv is not None else sys.argv[1:])
    print(section)
    if args.out:
        write_section(args.out, "bench_generate", section)


def render(rows: list[dict], args, count: int, argv: list[str]) -> str:
    v = versions(["jax", "jaxlib"])
    lines = [
        "| batch | steps | cached tokens/s | uncached tokens/s | speedup | cached ms | "
        "uncached ms | compile s (cached / uncached) | same tokens |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        t, m, c = r["tokens_per_s"], r["median_s"], r["compile_s"]
        lines.append(
            f"| {r['batch']} | {r['steps']} | {t[True]:,.0f} | {t[False]:,.0f} | "
            f"{t[True] / t[False]:.1f}x | {m[True] * 1e3:.0f} | {m[False] * 1e3:.0f} | "
            f"{c[True]:.1f} / {c[False]:.1f} | {'yes' if r['same'] else 'NO'} |"
        )
    spread = max(max(r["spread"].values()) for r in rows)
    command = ("python experiments/bench_generate.py " + " ".join(argv)).strip()
    return f"""## Sampling with a key/value cache (CPU)

`{command}`: `jaxnn.lm.make_sampler` on `char_transformer({VOCAB}, max_length={args.max_length},
width={args.width}, num_heads={args.heads}, layers={args.layers})` ({count:,} parameters,
experiments/char_lm.py's size), a prompt of {args.prompt_length} tokens, temperature 1.0, top-k
20. Tokens/s counts the generated tokens (batch x steps) over the median of {args.repeats} timed
calls after a warm-up, `block_until_ready`, cached and uncached interleaved; compilation is
timed apart (the first call). Without the cache each of the S steps reruns the model on all
P + S positions, so its cost grows with S; with it each step runs on one new token against the
cached keys and values. "same tokens": both drew the same sequence from one key. Largest
spread (max - min) / median of any row: {spread:.0%}. {platform.machine()} CPU, 2 cores shared
with other work; Python {platform.python_version()}, jax {v["jax"]}, jaxlib {v["jaxlib"]}.

{chr(10).join(lines)}
"""


if __name__ == "__main__":
    main()
