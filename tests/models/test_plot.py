"""Tests of jaxnn.models.plot: the DOT graph of serial / parallel / residual models, rendering."""

from __future__ import annotations

import logging
import re
import shutil
import sys
import xml.etree.ElementTree as ET

import graphviz
import jax
import jax.numpy as jnp
import pytest

import jaxnn
from jaxnn.layers import BatchNorm, Dense, Dropout
from jaxnn.models import plot
from jaxnn.models.plot import model_to_dot, plot_model

HAS_DOT = shutil.which("dot") is not None

# The leaves of `nested()`, by path, written out by hand.
LEAVES = [
    "encoder/dense",
    "encoder/batch_norm",
    "encoder/relu",
    "parallel/dense",
    "parallel/serial/dense",
    "parallel/serial/dropout",
    "residual/dense",
    "residual/tanh",
    "parallel_1/dense",
    "parallel_1/dense_1",
]


def nested():
    encoder = jaxnn.serial(Dense(8), BatchNorm(), jax.nn.relu, name="encoder")
    return jaxnn.serial(
        encoder,
        jaxnn.parallel(Dense(4), jaxnn.serial(Dense(4), Dropout(0.1)), combine="sum"),
        jaxnn.residual(Dense(4), jnp.tanh),
        jaxnn.parallel(Dense(2), Dense(3)),
        name="net",
    )


_ID = r'(?:"([^"]+)"|(\S+))'
_NODE = re.compile(rf"^\s*{_ID} \[(.*)\]$")
_EDGE = re.compile(rf"^\s*{_ID} -> {_ID}(?: \[(.*)\])?$")


def parse(source):
    """Nodes {id: attribute text} and edges [(tail, head, attribute text)] of a DOT source."""
    nodes, edges = {}, []
    for line in source.splitlines():
        if m := _EDGE.match(line):
            edges.append((m[1] or m[2], m[3] or m[4], m[5] or ""))
        elif (m := _NODE.match(line)) and (m[1] or m[2]) not in ("graph", "node", "edge"):
            nodes[m[1] or m[2]] = m[3]
    return nodes, edges


def into(edges, node):
    return sorted(tail for tail, head, _ in edges if head == node)


def out_of(edges, node):
    return sorted(head for tail, head, _ in edges if tail == node)


@pytest.fixture(scope="module")
def graph():
    source = model_to_dot(nested(), (-1, 5), show_params=True).source
    return source, *parse(source)


def test_every_leaf_is_one_node_with_the_ends_and_merges(graph):
    _, nodes, _ = graph
    merges = ["parallel#sum", "residual#add", "parallel_1#concat"]
    assert sorted(nodes) == sorted(["#input", "#output", *LEAVES, *merges])


def test_serial_is_a_chain(graph):
    _, _, edges = graph
    assert out_of(edges, "#input") == ["encoder/dense"]
    assert out_of(edges, "encoder/dense") == ["encoder/batch_norm"]
    assert out_of(edges, "encoder/batch_norm") == ["encoder/relu"]
    assert out_of(edges, "parallel/serial/dense") == ["parallel/serial/dropout"]
    assert into(edges, "#output") == ["parallel_1#concat"]


def test_parallel_fans_out_and_merges_one_edge_per_branch(graph):
    _, nodes, edges = graph
    assert out_of(edges, "encoder/relu") == ["parallel/dense", "parallel/serial/dense"]
    assert into(edges, "parallel#sum") == ["parallel/dense", "parallel/serial/dropout"]
    assert out_of(edges, "residual#add") == ["parallel_1/dense", "parallel_1/dense_1"]
    assert into(edges, "parallel_1#concat") == ["parallel_1/dense", "parallel_1/dense_1"]
    assert 'label="concat\\naxis=-1"' in nodes["parallel_1#concat"]
    assert "label=sum" in nodes["parallel#sum"]


def test_residual_has_the_body_and_a_skip_edge_into_add(graph):
    _, _, edges = graph
    assert out_of(edges, "parallel#sum") == ["residual#add", "residual/dense"]
    assert into(edges, "residual#add") == ["parallel#sum", "residual/tanh"]
    (skip,) = [
        attrs for tail, head, attrs in edges if (tail, head) == ("parallel#sum", "residual#add")
    ]
    assert "style=dashed" in skip and "label=skip" in skip


def test_edges_count_and_every_node_lies_on_a_path_from_input_to_output(graph):
    _, nodes, edges = graph
    # encoder: input->dense->batch_norm->relu (3); parallel: 2 fan-out + dense->dropout (3) and
    # 2 into sum; residual: sum->dense->tanh->add (3) + skip (1); parallel_1: 2 fan-out + 2 into
    # concat; concat->output (1). 3 + 3 + 2 + 4 + 4 + 1 = 17, none twice.
    assert len(edges) == len(set(edges)) == 17
    seen, todo = set(), ["#input"]
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo += out_of(edges, node)
    assert seen == set(nodes)


def test_nested_combinators_are_labelled_clusters(graph):
    source, _, _ = graph
    assert re.search(
        r'subgraph cluster_encoder \{\s+color=gray50 label="encoder \(serial\)"', source
    )
    assert re.search(r'subgraph "cluster_parallel/serial" \{\s+color=gray50 label=serial ', source)
    assert re.search(r"subgraph cluster_residual \{\s+color=gray50 label=residual ", source)
    # a leaf is declared inside its innermost cluster
    inner = source.split('subgraph "cluster_parallel/serial" {')[1].split("}")[0]
    assert '"parallel/serial/dense"' in inner and '"parallel/dense"' not in inner


def test_labels_show_name_type_shape_and_params(graph):
    _, nodes, _ = graph
    # Dense(8) on 5 features: 5*8 + 8 = 48 params; BatchNorm gamma and beta: 2*8
    assert nodes["encoder/dense"] == 'label="dense\\nDense\\n(None, 8)\\nparams: 48"'
    assert nodes["encoder/batch_norm"] == 'label="batch_norm\\nBatchNorm\\n(None, 8)\\nparams: 16"'
    assert nodes["#input"].startswith('label="input\\n(None, 5)"')
    assert nodes["#output"].startswith('label="output\\n(None, 5)"')  # 2 + 3 concatenated


def test_show_shapes_false_and_rankdir():
    source = model_to_dot(jaxnn.serial(Dense(3)), (-1, 4), show_shapes=False, rankdir="LR").source
    nodes, _ = parse(source)
    assert nodes["dense"] == 'label="dense\\nDense"'
    assert "rankdir=LR" in source and "(None" not in source


def test_a_single_layer_and_a_residual_root():
    nodes, edges = parse(model_to_dot(Dense(3), (-1, 4)).source)
    assert sorted(nodes) == ["#input", "#output", "dense"]
    assert edges == [("#input", "dense", ""), ("dense", "#output", "")]
    _, edges = parse(model_to_dot(jaxnn.residual(Dense(4), name="block"), (-1, 4)).source)
    assert into(edges, "#add") == ["#input", "dense"]


def test_bad_arguments():
    with pytest.raises(
        ValueError, match="model_to_dot: rankdir must be one of BT, LR, RL, TB; got 'XY'"
    ):
        model_to_dot(Dense(3), (-1, 4), rankdir="XY")
    with pytest.raises(ValueError, match=r"model_to_dot: model 'dense' on input_shape \(4,\)"):
        model_to_dot(Dense(3), (4,))
    with pytest.raises(ValueError, match=r"plot_model: path must end in one of \.dot, \.gv, \.pdf, "
                       r"\.png, \.svg \(the file format\); got '.*model\.txt'"):  # fmt: skip
        plot_model(Dense(3), (-1, 4), "model.txt")


def test_missing_graphviz_package_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "graphviz", None)
    with pytest.raises(
        ImportError,
        match=r'plot_model needs the graphviz Python package: pip install "jaxnn\[plot\]"',
    ):
        plot_model(Dense(3), (-1, 4), tmp_path / "m.svg")


# ----------------------------------------------------------------------------------------------
# Files


def test_dot_and_gv_write_the_source(tmp_path):
    model = jaxnn.serial(Dense(3), jnp.tanh)
    expected = model_to_dot(model, (-1, 4)).source
    for name in ("m.dot", "m.gv"):
        assert plot_model(model, (-1, 4), tmp_path / name) == tmp_path / name
        assert (tmp_path / name).read_text() == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.dot", "m.gv"]  # no temp files left


@pytest.mark.skipif(
    not HAS_DOT, reason="the Graphviz `dot` program is not installed (apt-get install graphviz)"
)
def test_svg_is_valid_xml_with_the_layer_names(tmp_path):
    out = plot_model(nested(), (-1, 5), tmp_path / "net.svg")
    assert out == tmp_path / "net.svg"
    root = ET.fromstring(out.read_bytes())
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = {t.text for t in root.iter("{http://www.w3.org/2000/svg}text")}
    assert {"batch_norm", "dropout", "dense_1", "add", "sum", "skip", "encoder (serial)"} <= texts
    assert [p.name for p in tmp_path.iterdir()] == ["net.svg"]


@pytest.mark.skipif(
    not HAS_DOT, reason="the Graphviz `dot` program is not installed (apt-get install graphviz)"
)
def test_png_is_a_png(tmp_path):
    out = plot_model(Dense(3), (-1, 4), tmp_path / "d.png", rankdir="LR")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_without_dot_on_path_the_source_is_written_and_returned(monkeypatch, tmp_path, caplog):
    monkeypatch.setattr(plot.shutil, "which", lambda name: None)
    model = jaxnn.serial(Dense(3), jnp.tanh)
    with caplog.at_level(logging.WARNING, logger="jaxnn.models.plot"):
        out = plot_model(model, (-1, 4), tmp_path / "model.svg")
    assert out == tmp_path / "model.dot"
    assert out.read_text() == model_to_dot(model, (-1, 4)).source
    assert [p.name for p in tmp_path.iterdir()] == ["model.dot"]
    message = caplog.records[-1].getMessage()
    assert f"dot -Tsvg {out} -o {tmp_path / 'model.svg'}" in message
    assert "apt-get install graphviz" in message


def test_when_dot_cannot_run_the_source_is_written_and_returned(monkeypatch, tmp_path, caplog):
    def missing(self, *args, **kwargs):
        raise graphviz.ExecutableNotFound(["dot"])

    monkeypatch.setattr(plot.shutil, "which", lambda name: "/usr/bin/dot")
    monkeypatch.setattr(graphviz.Digraph, "pipe", missing)
    with caplog.at_level(logging.WARNING, logger="jaxnn.models.plot"):
        out = plot_model(Dense(3), (-1, 4), tmp_path / "model.pdf")
    assert out == tmp_path / "model.dot" and out.read_text().startswith("digraph dense {")
    assert "dot -Tpdf" in caplog.records[-1].getMessage()
