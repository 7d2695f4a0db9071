import jax
import pytest

from jaxnn import cache


@pytest.fixture
def restore_cache_dir():
    before = jax.config.jax_compilation_cache_dir
    yield
    jax.config.update("jax_compilation_cache_dir", before)


def test_default_folder_follows_xdg_cache_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache.default_cache_dir() == tmp_path / "jaxnn" / "xla"


def test_environment_turns_the_cache_off_or_points_it_elsewhere(
    monkeypatch, tmp_path, restore_cache_dir
):
    for off in ("0", "off", "NO", "false"):
        monkeypatch.setenv("JAXNN_COMPILATION_CACHE", off)
        assert cache.cache_from_environment() is None
    monkeypatch.setenv("JAXNN_COMPILATION_CACHE", str(tmp_path / "here"))
    assert cache.cache_from_environment(disabled=True) is None
    folder = cache.cache_from_environment()
    assert folder == tmp_path / "here" and folder.is_dir()
    assert jax.config.jax_compilation_cache_dir == str(folder)
    assert jax.config.jax_persistent_cache_min_compile_time_secs == 0.0


def test_a_folder_that_cannot_be_created_is_named(tmp_path, monkeypatch, restore_cache_dir):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OSError, match=r"cannot create the cache folder '.*file/xla'"):
        cache.enable_compilation_cache(blocker / "xla")
    # The command line never fails for a cache it cannot make: it runs without one.
    monkeypatch.setenv("JAXNN_COMPILATION_CACHE", str(blocker / "xla"))
    assert cache.cache_from_environment() is None
