import jax.numpy as jnp
import pytest

from jaxnn import paths


def test_path_strings_and_leaves():
    tree = {
        "encoder": {"dense_1": {"w": jnp.ones(1), "b": jnp.ones(1)}},
        "head": {"w": jnp.ones(1)},
    }
    assert [p for p, _ in paths.leaves_with_paths(tree)] == [
        "encoder/dense_1/b",
        "encoder/dense_1/w",
        "head/w",
    ]


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("w", "encoder/dense_1/w", True),
        ("w", "encoder/dense_1/b", False),
        ("dense_*", "encoder/dense_1/w", False),  # no '/': leaf name only
        ("encoder/*", "encoder/dense_1/w", True),
        ("*/dense_1/*", "encoder/dense_1/b", True),
        ("head/*", "encoder/dense_1/w", False),
        (("head", "w"), "head/w", True),
        (("head",), "head/w", False),
    ],
)
def test_matches(pattern, path, expected):
    assert paths.matches(pattern, path) is expected


def test_bad_pattern():
    with pytest.raises(
        TypeError,
        match="a path pattern must be a string such as 'dense_1/\\*' or a tuple of keys; got int 3",
    ):
        paths.matches(3, "a/b")
