"""A character language model on the Python documentation that ships with CPython, on the CPU.

Trains :func:`jaxnn.lm.char_transformer` (pre-norm GPT-style blocks, learned positions) with
``jaxnn.fit`` on next-character windows of ``jaxnn.data.text_corpus("python_docs")``
(``pydoc_data.topics``: no download), the last 10% of the text held out. Reports the training
and test cross-entropy in bits per character (nats / ln 2) beside two baselines computed on the
same split: a uniform guess (log2 V) and the unigram entropy of the training text (a model that
knows only how often each character occurs). Then samples from the trained model with the
key/value cache (``jaxnn.lm.sample``, temperature and top-k), and writes a section to
``--out``.

    python experiments/char_lm.py --epochs 4 --out docs/benchmarks.md   # about 4 min on 2 cores
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
import time
from pathlib import Path

import jax
import numpy as np
import optax

import jaxnn
from jaxnn.data import CharVocab, text_corpus, train_test_windows
from jaxnn.lm import char_transformer, sample

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import versions, write_section  # noqa: E402

LN2 = math.log(2.0)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--length", type=int, default=128, help="window length T (default 128)")
    p.add_argument("--width", type=int, default=128)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--learning-rate", type=float, default=3e-3, help="peak of the schedule")
    p.add_argument("--prompt", default="The with statement")
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--top-k", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save", type=Path, help="also save the trained model (.jaxnn)")
    p.add_argument("--out", type=Path, help="Markdown file to write the section to")
    return p.parse_args(argv)


def unigram_bits(ids: np.ndarray, size: int) -> float:
    """The entropy of the character frequencies of ``ids``, in bits per character."""
    p = np.bincount(ids, minlength=size) / len(ids)
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    text = text_corpus("python_docs")
    vocab = CharVocab.from_text(text)
    ids = vocab.encode(text)
    (x, y), (x_test, y_test) = train_test_windows(ids, args.length, test_fraction=0.1)
    model = char_transformer(
        vocab.size,
        max_length=args.length,
        width=args.width,
        num_heads=args.heads,
        layers=args.layers,
        dropout=args.dropout,
    )
    steps = args.epochs * math.ceil(len(x) / args.batch_size)
    schedule = optax.warmup_cosine_decay_schedule(
        0.0, args.learning_rate, warmup_steps=min(100, steps // 10), decay_steps=steps
    )
    optimizer = optax.chain(optax.clip_by_global_norm(1.0), optax.adamw(schedule, 0.01))
    start = time.perf_counter()
    ts, history = jaxnn.fit(
        model,
        (x, y),
        loss="softmax_cross_entropy",
        optimizer=optimizer,
        epochs=args.epochs,
        batch_size=args.batch_size,
        metrics=["accuracy"],
        seed=args.seed,
        verbose=1,
    )
    train_s = time.perf_counter() - start
    results = {
        split: jaxnn.evaluate(
            model, ts, data, loss="softmax_cross_entropy", metrics=["accuracy"], batch_size=64
        )
        for split, data in (("train", (x, y)), ("test", (x_test, y_test)))
    }
    params = sum(int(np.prod(a.shape)) for a in jax.tree.leaves(ts.params))
    prompt = vocab.encode(args.prompt)
    out = sample(
        model,
        ts.params,
        ts.state,
        prompt,
        steps=args.length - len(prompt),
        key=jax.random.key(args.seed),
        temperature=args.temperature,
        top_k=args.top_k,
    )
    text_out = vocab.decode(np.asarray(out))
    if args.save:
        jaxnn.save_model(args.save, model, ts)
    cut = round(0.9 * len(ids))
    report = {
        "args": args,
        "argv": argv if argv is not None else sys.argv[1:],
        "vocab": vocab.size,
        "windows": (len(x), len(x_test)),
        "params": params,
        "train_s": train_s,
        "epoch_s": history.epoch_times,
        "results": results,
        "uniform_bits": math.log2(vocab.size),
        "unigram_bits": unigram_bits(ids[:cut], vocab.size),
        "sample": text_out,
    }
    section = render(report)
    print(section)
    if args.out:
        write_section(args.out, "char_lm", section)


def render(r: dict) -> str:
    a = r["args"]
    v = versions(["jax", "jaxlib", "optax"])
    train, test = r["results"]["train"], r["results"]["test"]
    epochs = ", ".join(f"{t:.0f}" for t in r["epoch_s"])
    command = "python experiments/char_lm.py " + " ".join(r["argv"])
    sample_text = r["sample"].replace("```", "'''")
    return f"""## A character language model on `python_docs` (CPU)

`{command.strip()}`: `jaxnn.lm.char_transformer({r["vocab"]}, max_length={a.length},
width={a.width}, num_heads={a.heads}, layers={a.layers}, dropout={a.dropout})`
({r["params"]:,} parameters) trained by `jaxnn.fit` on next-character windows of
`text_corpus("python_docs")` (CPython's `pydoc_data.topics`, {r["vocab"]} distinct
characters), {r["windows"][0]:,} training and {r["windows"][1]:,} test windows of {a.length}
characters (the test windows are the last 10% of the text). AdamW (weight decay 0.01), a
warm-up + cosine schedule to {a.learning_rate:g}, gradients clipped to norm 1, batch
{a.batch_size}, {a.epochs} epochs in {r["train_s"]:.0f} s (epochs {epochs} s; the first
compiles) on {platform.machine()} CPU, 2 cores shared with other work; Python
{platform.python_version()}, jax {v["jax"]}, optax {v["optax"]}.

| | bits / character | accuracy (next character) |
|---|---|---|
| uniform guess over the vocabulary, log2 V | {r["uniform_bits"]:.2f} | |
| unigram entropy of the training text | {r["unigram_bits"]:.2f} | |
| model, training windows (dropout off) | {train["loss"] / LN2:.3f} | {train["accuracy"]:.3f} |
| model, test windows | {test["loss"] / LN2:.3f} | {test["accuracy"]:.3f} |

A sample: the prompt `{a.prompt}`, then {a.length - len(a.prompt)} characters drawn with
`jaxnn.lm.sample(..., temperature={a.temperature}, top_k={a.top_k})` and the key/value cache:

```text
{sample_text}
```
"""


if __name__ == "__main__":
    main()
