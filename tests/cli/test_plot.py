from tests.cli.conftest import invoke


def test_plot_refuses_to_replace_and_redraws_elsewhere(xor_run, tmp_path):
    folder, _ = xor_run
    before = (folder / "history.png").read_bytes()
    refused = invoke("plot", folder)
    assert refused.exit_code == 1
    assert "already has history.png, decision_boundary.png, confusion_matrix.png" in refused.stderr
    assert (folder / "history.png").read_bytes() == before
    result = invoke("plot", folder, "--out", tmp_path / "plots")
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (tmp_path / "plots").iterdir())
    assert names == ["confusion_matrix.png", "decision_boundary.png", "history.png"]
    assert result.stdout.splitlines()[0] == "files written:"
    assert (tmp_path / "plots" / "history.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
