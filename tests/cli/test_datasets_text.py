"""`--data python_docs`: next-character windows, the char transformer spec, a run end to end."""

import json

import jax
import numpy as np
import pytest

import jaxnn
from jaxnn import data
from jaxnn.cli.common import UserError
from jaxnn.cli.datasets import TEXT_WINDOW, defaults, load_dataset, text_vocab
from jaxnn.cli.models import check_output, output_shape
from jaxnn.cli.spec import SpecError, build
from jaxnn.lm import sample
from tests.cli.conftest import invoke

FAST = ("--no-plots", "--no-tensorboard", "--quiet")


@pytest.fixture(scope="module")
def corpus():
    """The corpus's vocabulary and ids, built here from jaxnn.data (the reference)."""
    text = data.text_corpus("python_docs")
    vocab = data.CharVocab.from_text(text)
    return vocab, vocab.encode(text)


def test_python_docs_is_windows_of_the_corpus_cut_at_the_end(corpus):
    vocab, ids = corpus
    ds = load_dataset("python-docs", test_split=0.2, seed=5)  # the seed plays no part
    (x, y), (x_test, y_test) = data.train_test_windows(ids, TEXT_WINDOW, test_fraction=0.2)
    for got, want in ((ds.x_train, x), (ds.y_train, y), (ds.x_test, x_test), (ds.y_test, y_test)):
        np.testing.assert_array_equal(got, want)
        assert got.dtype == np.int32
    assert ds.num_classes == vocab.size and ds.sequences and ds.input_shape == (-1, 64)
    assert ds.describe() == (
        f"python-docs: {len(x):,} training and {len(x_test):,} test windows of 64 characters, "
        f"next-character targets over {vocab.size} characters"
    )
    assert text_vocab("python_docs") == vocab
    whole = load_dataset("python_docs", test_split=0)
    assert whole.x_test is None and len(whole.x_train) == (len(ids) - 65) // 64 + 1


def test_the_default_model_is_the_char_transformer_over_the_vocabulary(corpus):
    vocab, _ = corpus
    ds = load_dataset("python_docs")
    options = defaults(ds)
    assert options["model"] == f"char_transformer({vocab.size}, max_length=64)"
    model = build(options["model"])
    out_shape, params = output_shape(model, ds.input_shape)
    assert out_shape == (-1, 64, vocab.size)
    # 2 blocks of width 64: embeddings V*64 + 64*64, per block 2 LN (4*64) + QKVO 4*(64*64 + 64)
    # + MLP 64*256 + 256 + 256*64 + 64; final LN 2*64; head 64*V + V
    block = 4 * 64 + 4 * (64 * 64 + 64) + 64 * 256 + 256 + 256 * 64 + 64
    assert params == vocab.size * 64 + 64 * 64 + 2 * block + 2 * 64 + 64 * vocab.size + vocab.size
    check_output(out_shape, ds)  # fits: no error


def test_a_classifier_on_text_is_refused_with_the_shape_it_needs(corpus):
    vocab, _ = corpus
    ds = load_dataset("python_docs")
    with pytest.raises(UserError, match=rf"has one label per position: the model must give "
                       rf"logits of shape \(-1, 64, {vocab.size}\), e.g. "
                       rf"char_transformer\({vocab.size}, max_length=64\)"):  # fmt: skip
        check_output((-1, vocab.size), ds)


def test_a_spec_of_the_char_transformer_alone_is_the_model_itself():
    model = build("char_transformer(10, max_length=8, width=8, num_heads=2, layers=1)")
    assert [c["type"] for c in model.config["layers"]] == [
        "Embedding", "PositionalEmbedding", "TransformerBlock", "LayerNorm", "Dense",
    ]  # fmt: skip
    nested = build("char_transformer(10, max_length=8, width=8) softmax")
    assert [c["type"] for c in nested.config["layers"]][0] == "serial"
    blocks = build("embedding(10, 8) positional_embedding(8) transformer_block(2, causal=true) "
                   "dense(10)")  # fmt: skip
    assert blocks.init(jax.random.key(0), (-1, 8))[0] == (-1, 8, 10)
    assert blocks.config["layers"][2]["causal"] is True
    with pytest.raises(SpecError, match=r"char_transformer: vocab_size must be >= 1; got 0"):
        build("char_transformer(0)")
    with pytest.raises(SpecError, match=r"char_transformer\(...\) needs vocab_size"):
        build("char_transformer")


def test_train_on_python_docs_saves_a_model_that_evaluates_and_samples(tmp_path, corpus):
    vocab, ids = corpus
    folder = tmp_path / "lm"
    spec = f"char_transformer({vocab.size}, max_length=64, width=16, num_heads=2, layers=1)"
    result = invoke("train", "--data", "python_docs", "--model", spec, "--epochs", "1",
                    "--test-split", "0.05", "--validation-split", "0", "--out", folder, *FAST)  # fmt: skip
    assert result.exit_code == 0, result.output
    saved = jaxnn.load_model(folder / "model.jaxnn")
    _, (x_test, y_test) = data.train_test_windows(ids, 64, test_fraction=0.05)
    logits = np.asarray(jaxnn.predict(saved.model, saved.train_state, x_test))
    assert logits.shape == (len(x_test), 64, vocab.size)
    # test.json: the mean cross-entropy over every position, and the per-position accuracy
    z = logits - logits.max(-1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(-1, keepdims=True))
    nll = -np.take_along_axis(log_p, y_test[..., None], -1).mean()
    test = json.loads((folder / "test.json").read_text())
    assert test["samples"] == len(x_test)
    assert test["loss"] == pytest.approx(nll, rel=1e-4)
    assert test["accuracy"] == pytest.approx((logits.argmax(-1) == y_test).mean(), abs=1e-6)
    assert test["loss"] < np.log(vocab.size) - 1.0  # it learned more than a uniform guess
    history = (folder / "history.csv").read_text().splitlines()
    assert history[0].split(",")[:3] == ["epoch", "accuracy", "loss"]
    # The saved model is one jaxnn.lm.sample decodes with the key/value cache.
    prompt = vocab.encode("def ")
    ids_out = sample(saved.model, saved.train_state.params, saved.train_state.state, prompt,
                     steps=8, key=jax.random.key(0), temperature=0.0)  # fmt: skip
    full = np.asarray(saved.model.apply(saved.train_state.params, saved.train_state.state,
                                        ids_out[None, :-1])[0])  # fmt: skip
    np.testing.assert_array_equal(ids_out[4:], full[0, 3:].argmax(-1))  # greedy: each argmax
