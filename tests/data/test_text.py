"""jaxnn.data.text: the shipped corpus, the character vocabulary and next-character windows."""

from __future__ import annotations

import numpy as np
import pytest

from jaxnn import data
from jaxnn.data.text import CharVocab, char_windows, text_corpus, train_test_windows


def _reference_windows(ids, length, stride):
    """Next-character pairs by a plain loop: every start s with s + length + 1 <= len(ids)."""
    xs, ys = [], []
    start = 0
    while start + length + 1 <= len(ids):
        xs.append(list(ids[start : start + length]))
        ys.append(list(ids[start + 1 : start + length + 1]))
        start += stride
    return np.array(xs), np.array(ys)


# The corpus -------------------------------------------------------------------------------------


def test_python_docs_is_pydoc_topics_joined_in_sorted_order():
    from pydoc_data.topics import topics

    text = text_corpus("python_docs")
    assert text == "\n".join(topics[name] for name in sorted(topics))
    assert text_corpus() == text  # the default name, and the same text on a second call
    assert data.corpus_names() == ["python_docs"]


def test_an_unknown_corpus_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"text_corpus: unknown corpus 'shakespeare'; known: "
                       r"\['python_docs'\]"):  # fmt: skip
        text_corpus("shakespeare")


# The vocabulary ---------------------------------------------------------------------------------


def test_vocab_is_the_sorted_distinct_characters_and_ids_are_their_indices():
    vocab = CharVocab.from_text("banana band")
    assert vocab.chars == (" ", "a", "b", "d", "n") and vocab.size == 5
    ids = vocab.encode("band a")
    assert ids.dtype == np.int32
    assert ids.tolist() == [2, 1, 4, 3, 0, 1]  # b a n d ' ' a by hand


def test_encode_then_decode_is_the_identity_on_the_whole_corpus():
    text = text_corpus()
    vocab = CharVocab.from_text(text)
    ids = vocab.encode(text)
    assert len(ids) == len(text) and ids.min() == 0 and ids.max() == vocab.size - 1
    assert vocab.decode(ids) == text
    # The ids follow code-point order: a numpy reference from ord().
    codes = np.array([ord(c) for c in text[:1000]])
    table = np.array([ord(c) for c in vocab.chars])
    np.testing.assert_array_equal(ids[:1000], np.searchsorted(table, codes))


def test_non_ascii_characters_round_trip():
    vocab = CharVocab.from_text("naïve café – ∑ 😀")
    assert vocab.decode(vocab.encode("café 😀")) == "café 😀"
    assert vocab.chars[-1] == "😀"  # the largest code point sorts last


def test_an_unknown_character_is_named_with_its_code_point_and_index():
    vocab = CharVocab.from_text("abc")
    with pytest.raises(ValueError, match=r"character 'z' \(U\+007A\) at index 2 is not in the "
                       r"vocabulary of 3 characters \(2 unknown in all\)"):  # fmt: skip
        vocab.encode("abzcz")


def test_vocab_bad_input_errors():
    with pytest.raises(ValueError, match="CharVocab.from_text: text is empty"):
        CharVocab.from_text("")
    with pytest.raises(TypeError, match="CharVocab.from_text: text must be a str; got bytes"):
        CharVocab.from_text(b"abc")
    vocab = CharVocab.from_text("ab")
    with pytest.raises(TypeError, match="CharVocab.encode: text must be a str; got list"):
        vocab.encode(["a"])
    with pytest.raises(ValueError, match=r"ids must be in \[0, 2\); got \[2, -1\]"):
        vocab.decode(np.array([0, 2, -1]))
    with pytest.raises(ValueError, match=r"ids must be integers of shape \(T,\); got int64 "
                       r"\(1, 2\)\. Decode one row at a time"):  # fmt: skip
        vocab.decode(np.zeros((1, 2), np.int64))
    with pytest.raises(ValueError, match=r"ids must be integers of shape \(T,\); got float64"):
        vocab.decode(np.array([0.0, 1.0]))
    assert vocab.decode(np.array([], np.int32)) == ""


# Windows ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "length", "stride"), [(8, 3, None), (20, 4, 1), (21, 5, 3),
                                                      (6, 5, None), (50, 7, 10)])  # fmt: skip
def test_windows_equal_a_loop_reference(n, length, stride):
    ids = (np.arange(n) * 7) % 11  # not arange, so a transposed index would show
    x, y = char_windows(ids, length, stride=stride)
    want_x, want_y = _reference_windows(ids, length, length if stride is None else stride)
    np.testing.assert_array_equal(x, want_x)
    np.testing.assert_array_equal(y, want_y)
    assert x.dtype == y.dtype == np.int32
    # N = floor((L - 1 - T) / s) + 1, the docstring's formula
    assert len(x) == (n - 1 - length) // (length if stride is None else stride) + 1


def test_targets_are_the_inputs_shifted_by_one():
    x, y = char_windows(np.arange(100) % 13, 9, stride=4)
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])


def test_window_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"char_windows: a window of length 5 needs at least 6 "
                       r"ids \(its targets run one further\); got 5"):  # fmt: skip
        char_windows(np.arange(5), 5)
    with pytest.raises(ValueError, match="char_windows: length must be a positive int; got 0"):
        char_windows(np.arange(5), 0)
    with pytest.raises(ValueError, match="char_windows: length must be a positive int; got True"):
        char_windows(np.arange(5), True)
    with pytest.raises(ValueError, match="char_windows: stride must be a positive int; got 1.5"):
        char_windows(np.arange(5), 2, stride=1.5)
    with pytest.raises(ValueError, match=r"char_windows: ids must be integers of shape \(L,\); "
                       r"got float64 \(4,\)"):  # fmt: skip
        char_windows(np.zeros(4), 2)
    with pytest.raises(ValueError, match=r"got int64 \(2, 3\)"):
        char_windows(np.zeros((2, 3), np.int64), 2)


# The split -------------------------------------------------------------------------------------


def test_train_test_windows_cut_the_text_once_with_no_shared_position():
    ids = np.arange(1000)  # ids equal positions, so a window's values say where it came from
    (x, y), (x_test, y_test) = train_test_windows(ids, 16, test_fraction=0.2, stride=5)
    cut = 800
    assert np.concatenate([x, y]).max() < cut  # every training input and target is before it
    assert np.concatenate([x_test, y_test]).min() >= cut
    np.testing.assert_array_equal(x, _reference_windows(ids[:cut], 16, 5)[0])
    np.testing.assert_array_equal(y_test, _reference_windows(ids[cut:], 16, 5)[1])


def test_train_test_windows_of_the_corpus_have_no_overlap():
    text = text_corpus()
    vocab = CharVocab.from_text(text)
    ids = vocab.encode(text)
    (x, _), (x_test, y_test) = train_test_windows(ids, 64)
    assert x.shape[1] == x_test.shape[1] == 64
    # 90% of the text makes len(x) windows of 65 ids each (stride 64: floor((L - 65) / 64) + 1)
    cut = round(0.9 * len(ids))
    assert len(x) == (cut - 65) // 64 + 1 and len(x_test) == (len(ids) - cut - 65) // 64 + 1
    np.testing.assert_array_equal(x_test[0], ids[cut : cut + 64])
    np.testing.assert_array_equal(y_test[-1], ids[cut + 64 * (len(x_test) - 1) + 1 :][:64])


def test_train_test_windows_errors_say_which_part_is_short():
    with pytest.raises(ValueError, match=r"train_test_windows: test_fraction must be in \(0, 1\); "
                       r"got 1.0"):  # fmt: skip
        train_test_windows(np.arange(100), 4, test_fraction=1.0)
    with pytest.raises(ValueError, match="test_fraction must be in"):
        train_test_windows(np.arange(100), 4, test_fraction=True)
    with pytest.raises(ValueError, match=r"train_test_windows: the test part \(5 ids\): "
                       r"char_windows: a window of length 8 needs at least 9 ids"):  # fmt: skip
        train_test_windows(np.arange(50), 8, test_fraction=0.1)
