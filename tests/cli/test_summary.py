import pytest

from jaxnn.cli.common import UserError
from jaxnn.cli.summary import parse_shape
from tests.cli.conftest import invoke


def test_summary_of_a_run_uses_its_input_shape(xor_run):
    folder, _ = xor_run
    result = invoke("summary", folder)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Model 'serial': input (None, 2) -> output (None, 2)")
    # 2*16+16 + 16*16+16 + 16*2+2 parameters
    assert "Total params: 354 " in result.stdout


def test_summary_of_a_spec_with_an_input_shape_or_data():
    result = invoke("summary", "conv2d(4,3,relu) maxpool(2) flatten dense(10)", "--input-shape",
                    "8,8,1")  # fmt: skip
    assert result.exit_code == 0, result.output
    # conv 3*3*1*4+4 = 40, dense (3*3*4)*10+10 = 370
    assert "Total params: 410 " in result.stdout
    embedded = invoke("summary", "embedding(100,8) lstm(4) dense(1)", "--input-shape", "12")
    assert embedded.exit_code == 0, embedded.output  # integer inputs for an embedding
    assert "embedding  Embedding  (None, 12, 8)" in embedded.stdout
    digits = invoke("summary", "dense(10)", "--data", "digits")
    assert "input (None, 64) -> output (None, 10)" in digits.stdout


def test_summary_of_a_spec_needs_a_shape():
    result = invoke("summary", "dense(10)")
    assert result.exit_code == 1 and "give --input-shape" in result.stderr


def test_parse_shape():
    assert parse_shape("(-1, 28, 28, 1)") == (-1, 28, 28, 1)
    assert parse_shape("28x28") == (-1, 28, 28)
    with pytest.raises(UserError, match="give the sample shape as integers"):
        parse_shape("a,b")


def test_summary_precision_option():
    result = invoke("summary", "dense(4) dense(2)", "--input-shape", "3", "--precision",
                    "mixed_bfloat16")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "float32/bfloat16" in result.stdout and "Precision: mixed_bfloat16" in result.stdout
    bad = invoke("summary", "dense(2)", "--input-shape", "3", "--precision", "half")
    assert bad.exit_code == 2 and "'half' is not one of" in bad.stderr
