"""Text for language models: a corpus that ships with Python, a character vocabulary, windows.

:func:`text_corpus` returns the Python documentation topics that every CPython carries
(``pydoc_data.topics``: the text of ``help("if")``, ``help("FORMATTING")`` ...), so a character
model trains with no download. :class:`CharVocab` maps each character to an id and back;
:func:`char_windows` cuts ids into next-character training pairs, and
:func:`train_test_windows` splits by position first, so no test character is in a training
window.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

__all__ = ["CharVocab", "char_windows", "corpus_names", "text_corpus", "train_test_windows"]


def _python_docs() -> str:
    from pydoc_data.topics import topics

    return "\n".join(topics[name] for name in sorted(topics))


_CORPORA: dict[str, Callable[[], str]] = {"python_docs": _python_docs}


def corpus_names() -> list[str]:
    """The names :func:`text_corpus` takes, sorted.

    Example:
        >>> corpus_names()
        ['python_docs']
    """
    return sorted(_CORPORA)


def text_corpus(name: str = "python_docs") -> str:
    """A text corpus that ships with Python, by name; nothing is downloaded.

    ``"python_docs"`` is CPython's ``pydoc_data.topics.topics`` (about 80 documentation topics,
    about 470,000 characters of English and code; the exact text follows the Python version),
    joined by newlines in sorted order of the topic names, so the text is the same on every run
    of one Python version.

    Args:
        name: The corpus (default ``"python_docs"``; see :func:`corpus_names`).

    Returns:
        The text.

    Raises:
        ValueError: For an unknown name; the message lists the known ones.

    Example:
        >>> text = text_corpus()
        >>> len(text) > 400_000, text.count("lambda") > 10
        (True, True)
    """
    if name not in _CORPORA:
        raise ValueError(f"text_corpus: unknown corpus {name!r}; known: {corpus_names()}.")
    return _CORPORA[name]()


class CharVocab(NamedTuple):
    """The characters of a text, sorted by code point; a character's id is its index.

    Attributes:
        chars: The characters, one string each, sorted and distinct.

    Example:
        >>> vocab = CharVocab.from_text("hello")
        >>> vocab.chars, vocab.size
        (('e', 'h', 'l', 'o'), 4)
        >>> ids = vocab.encode("hole")
        >>> ids.tolist(), vocab.decode(ids)
        ([1, 3, 2, 0], 'hole')
    """

    chars: tuple[str, ...]

    @classmethod
    def from_text(cls, text: str) -> CharVocab:
        """The vocabulary of every character in ``text``.

        Raises:
            TypeError: If ``text`` is not a string.
            ValueError: If it is empty.
        """
        if not isinstance(text, str):
            raise TypeError(f"CharVocab.from_text: text must be a str; got {type(text).__name__}.")
        if not text:
            raise ValueError("CharVocab.from_text: text is empty; a vocabulary needs characters.")
        return cls(tuple(sorted(set(text))))

    @property
    def size(self) -> int:
        """:math:`V`, the number of characters (the model's output width)."""
        return len(self.chars)

    def _codes(self) -> np.ndarray:
        return np.array([ord(c) for c in self.chars], np.uint32)

    def encode(self, text: str) -> np.ndarray:
        """The ids ``(len(text),)`` int32 of the characters of ``text``.

        Raises:
            ValueError: For a character the vocabulary lacks, naming it, its code point and its
                index in ``text``.
        """
        if not isinstance(text, str):
            raise TypeError(f"CharVocab.encode: text must be a str; got {type(text).__name__}.")
        codes = np.frombuffer(text.encode("utf-32-le"), np.uint32)
        table = self._codes()
        ids = np.minimum(np.searchsorted(table, codes), len(table) - 1)
        unknown = np.flatnonzero(table[ids] != codes)
        if unknown.size:
            i = int(unknown[0])
            raise ValueError(
                f"CharVocab.encode: character {text[i]!r} (U+{ord(text[i]):04X}) at index {i} is "
                f"not in the vocabulary of {self.size} characters ({unknown.size} unknown in "
                f"all); build the vocabulary from text that has it."
            )
        return ids.astype(np.int32)

    def decode(self, ids: Any) -> str:
        """The text of a sequence of ids ``(T,)``.

        Raises:
            ValueError: For ids outside ``[0, size)`` or of more than one axis.
        """
        ids = np.asarray(ids)
        if ids.ndim != 1 or (ids.size and ids.dtype.kind not in "iu"):
            raise ValueError(
                f"CharVocab.decode: ids must be integers of shape (T,); got {ids.dtype} "
                f"{ids.shape}. Decode one row at a time, e.g. vocab.decode(ids[0])."
            )
        bad = ids[(ids < 0) | (ids >= self.size)]
        if bad.size:
            raise ValueError(
                f"CharVocab.decode: ids must be in [0, {self.size}); got {bad[:5].tolist()}."
            )
        return "".join(self.chars[i] for i in ids.tolist())


def _check_length(length: Any, where: str) -> None:
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise ValueError(f"{where}: length must be a positive int; got {length!r}.")


def char_windows(ids: Any, length: int, *, stride: int | None = None) -> tuple[Any, Any]:
    r"""Next-character training pairs: windows ``x`` of ``length`` ids and ``y`` one step on.

    .. math:: x_{n,t} = c_{n s + t}, \qquad y_{n,t} = c_{n s + t + 1}, \qquad 0 \le t < T

    Args:
        ids: The text's ids, ``(L,)`` integers.
        length: :math:`T`, the window length.
        stride: :math:`s`, the step between window starts (default ``length``: windows that
            do not overlap, every character a target once).

    Returns:
        ``(x, y)``, each ``(N, T)`` int32 with :math:`N = \lfloor (L - 1 - T) / s \rfloor + 1`.

    Raises:
        ValueError: For ids that are not 1-D integers, a length or stride below 1, or a text
            shorter than ``length + 1``.

    Example:
        >>> x, y = char_windows(np.arange(8), 3)
        >>> x.tolist(), y.tolist()
        ([[0, 1, 2], [3, 4, 5]], [[1, 2, 3], [4, 5, 6]])
    """
    where = "char_windows"
    ids = np.asarray(ids)
    if ids.ndim != 1 or ids.dtype.kind not in "iu":
        raise ValueError(
            f"{where}: ids must be integers of shape (L,); got {ids.dtype} {ids.shape}."
        )
    _check_length(length, where)
    stride = length if stride is None else stride
    if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
        raise ValueError(f"{where}: stride must be a positive int; got {stride!r}.")
    if len(ids) < length + 1:
        raise ValueError(
            f"{where}: a window of length {length} needs at least {length + 1} ids (its targets "
            f"run one further); got {len(ids)}."
        )
    starts = np.arange(0, len(ids) - length, stride)
    index = starts[:, None] + np.arange(length)[None, :]
    return ids[index].astype(np.int32), ids[index + 1].astype(np.int32)


def train_test_windows(
    ids: Any, length: int, *, test_fraction: float = 0.1, stride: int | None = None
) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """Training and test windows from the first and last parts of a text, with no overlap.

    The ids are cut at ``round((1 - test_fraction) * L)``; :func:`char_windows` runs on each
    part, so no window (and no target) crosses the cut.

    Args:
        ids: The text's ids, ``(L,)`` integers.
        length: :math:`T`, the window length.
        test_fraction: The share of the text at its end held out, in ``(0, 1)`` (default 0.1).
        stride: As :func:`char_windows` (default ``length``).

    Returns:
        ``((x_train, y_train), (x_test, y_test))``, each ``(N, T)`` int32.

    Raises:
        ValueError: For ``test_fraction`` outside ``(0, 1)``, or a part shorter than
            ``length + 1`` (see :func:`char_windows`).

    Example:
        >>> (x, y), (x_test, y_test) = train_test_windows(np.arange(20), 4, test_fraction=0.25)
        >>> x.tolist(), x_test.tolist(), y_test.tolist()
        ([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]], [[15, 16, 17, 18]], [[16, 17, 18, 19]])
    """
    where = "train_test_windows"
    if isinstance(test_fraction, bool) or not 0.0 < test_fraction < 1.0:
        raise ValueError(f"{where}: test_fraction must be in (0, 1); got {test_fraction!r}.")
    ids = np.asarray(ids)
    cut = round((1.0 - test_fraction) * len(ids))
    parts = []
    for part, span in (("training", ids[:cut]), ("test", ids[cut:])):
        try:
            parts.append(char_windows(span, length, stride=stride))
        except ValueError as error:
            raise ValueError(f"{where}: the {part} part ({len(span)} ids): {error}") from None
    return parts[0], parts[1]
