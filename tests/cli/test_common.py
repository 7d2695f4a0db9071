from pathlib import Path

from jaxnn.cli.common import did_you_mean, format_table, list_files, unknown_name


def test_unknown_name_suggests_the_closest_and_lists_all_sorted():
    message = unknown_name("data set", "digts", ["xor", "digits", "circle"])
    assert message == (
        "unknown data set 'digts'. Did you mean 'digits'? Known data sets: circle, digits, xor."
    )


def test_unknown_name_without_a_close_name_only_lists():
    assert unknown_name("loss", "zzz", ["mse", "mae"], plural="losses") == (
        "unknown loss 'zzz'. Known losses: mae, mse."
    )


def test_did_you_mean_ignores_case_and_keeps_the_spelling():
    assert did_you_mean("survived", ["Age", "Survived"]) == " Did you mean 'Survived'?"
    assert did_you_mean("Fare", ["Age", "Survived"]) == ""


def test_format_table_aligns_text_left_numbers_right_and_marks_missing():
    table = format_table(["run", "acc"], [["a", 0.5], ["long", None]])
    assert table.splitlines() == ["run      acc", "----  ------", "a     0.5000", "long       -"]


def test_list_files_names_each_file_or_says_none():
    assert list_files([Path("a/b.csv")]) == "files written:\n  a/b.csv"
    assert list_files([]) == "no files written"
