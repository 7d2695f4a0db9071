"""The rich displays in a notebook (``_repr_html_``), built with jaxnn/_html.py: the layer
tree, the summary, the training history and a loaded model file show their real names and
counts, with every text escaped."""

import re

import jax.numpy as jnp
import numpy as np

import jaxnn
from jaxnn import _html
from jaxnn.callbacks import History
from jaxnn.layers import Dense, Dropout


def test_table_escapes_text_and_aligns_numbers():
    page = _html.table(["name", "n"], [["<b>&", 3]], title="a <title>", numeric=[1], footer=["x<y"])
    assert "&lt;b&gt;&amp;" in page and "<b>&" not in page
    assert "a &lt;title&gt;" in page and "x&lt;y" in page
    assert '<td style="padding: 1px 8px; text-align: right">3</td>' in page
    assert '<td style="padding: 1px 8px; text-align: left">&lt;b&gt;&amp;</td>' in page


def _model():
    return jaxnn.serial(Dense(4), jnp.tanh, jaxnn.serial(Dropout(0.5), Dense(2), name="head"))


def test_layer_html_lists_every_layer_nested_with_its_arguments():
    page = _model()._repr_html_()
    assert "Layer &#x27;serial&#x27;: 6 layers" in page  # serial, dense, tanh, head, dropout, dense
    cells = re.findall(r">([^<]*)</td>", page)
    names = cells[0::3]
    assert names == ["serial", "\u2003dense", "\u2003tanh", "\u2003head", "\u2003\u2003dropout",
                     "\u2003\u2003dense"]  # fmt: skip
    assert cells[1::3] == ["serial", "Dense", "function", "serial", "Dropout", "Dense"]
    assert "units=4" in cells[5] and "function=tanh" in cells[8] and "drop_rate=0.5" in cells[14]


def test_summary_html_has_the_rows_and_the_parameter_counts():
    s = jaxnn.summary(_model(), (-1, 3), print_fn=None)
    page = s._repr_html_()
    # dense: 3*4 + 4 = 16; head/dense: 4*2 + 2 = 10
    cells = re.findall(r">([^<]*)</td>", page)
    assert cells[0::7] == ["dense", "tanh", "head", "\u2003head/dropout", "\u2003head/dense"]
    assert cells[3::7] == ["16", "0", "10", "0", "10"]  # params; a combinator counts its children
    assert f"Total params: {16 + 10} (104 B)" in page
    assert "Model &#x27;serial&#x27;: input (None, 3) -&gt; output (None, 2)" in page


def test_history_html_has_one_row_per_epoch_and_shortens_long_ones():
    h = History()
    for e in range(3):
        h.append(e, {"loss": 1.0 / (e + 1), "accuracy": 0.5 + 0.1 * e}, 0.25, 100.0)
    page = h._repr_html_()
    assert "History: 3 epochs" in page
    assert page.count("<tr>") == 4  # the header and 3 epochs
    assert ">0.3333</td>" in page and ">0.7000</td>" in page and ">0.25</td>" in page
    for e in range(3, 30):
        h.append(e, {"loss": 0.1, "accuracy": 0.9}, 0.1, 100.0)
    long = h._repr_html_()
    assert long.count("<tr>") == 1 + 5 + 1 + 10  # first 5, "...", last 10
    assert ">30</td>" in long and ">...</td>" in long


def test_saved_model_html_shows_shapes_params_step_and_layers(tmp_path):
    x, y = jaxnn.data.xor(n=32, seed=0)
    model = jaxnn.serial(Dense(3), jnp.tanh, Dense(2))
    ts, _ = jaxnn.fit(model, (x, y), loss="softmax_cross_entropy", epochs=2, batch_size=16,
                      verbose=0)  # fmt: skip
    jaxnn.save_model(tmp_path / "m.jaxnn", model, ts)
    page = jaxnn.load_model(tmp_path / "m.jaxnn")._repr_html_()
    params = 2 * 3 + 3 + 3 * 2 + 2
    assert f'>Params</td><td style="padding: 1px 8px; text-align: left">{params}</td>' in page
    assert '>Step</td><td style="padding: 1px 8px; text-align: left">4</td>' in page  # 2 x 2
    assert ">[-1, 2]</td>" in page and ">softmax_cross_entropy</td>" in page
    assert "Layer &#x27;serial&#x27;: 4 layers" in page
    assert np.isfinite(params)


def test_bench_records_show_as_a_table_in_a_notebook(tmp_path):
    from jaxnn.bench import Records, load_records, save_records

    record = {"family": "fc", "config": {"layers": 2, "width": 64}, "backend": "cpu",
              "precision": "mixed_bfloat16", "status": "ok", "fit_step_s": 0.004,
              "utilisation": 0.5}  # fmt: skip
    save_records(tmp_path / "bench.json", [record, {**record, "backend": "gpu"}])
    loaded = load_records(tmp_path / "bench.json")
    assert isinstance(loaded, Records) and loaded == [record, {**record, "backend": "gpu"}]
    page = loaded._repr_html_()
    assert "2 bench records" in page and page.count(">layers=2 width=64</td>") == 2
    assert ">mixed_bfloat16</td>" in page and "50.0%" in page
