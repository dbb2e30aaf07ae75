"""Laying text out on slides: wrapped lines, tables that fit their box, text sizes."""

from reportlib.render.fit import (CELL_MARGIN_X, EMU_PER_PT, LINE, SLACK_PT, bullets_fit, fit_table, line_count,
                                  text_size)

INCH = 914400


def test_lines_wrap_at_spaces_and_a_word_wider_than_the_line_breaks_between_characters():
    assert line_count("", 100, 12) == 1
    assert line_count("one\ntwo\vthree", 1000, 12) == 3
    words = "alpha beta gamma delta"
    one_line = line_count(words, 1000, 12)
    assert one_line == 1 and line_count(words, 60, 12) == 4  # each word on its own line
    assert line_count("x" * 100, 60, 12) > 5  # one word, broken into pieces
    assert line_count(words, 60, 12, bold=True) >= line_count(words, 60, 12)


def test_a_column_is_never_narrower_than_its_longest_word():
    """The health breakdown's "Weight" column had a weight of 1 in 9.6 and broke into "Weigh t"."""
    header = ["Component", "Weight", "Inputs", "Score", "Points"]
    rows = [["Revenue attainment", "30", "attainment: 125.0 %; registration win rate: 25.0 %", "100.0 %", "30.0"]]
    fit = fit_table(int(5.9 * INCH), 5 * INCH, header, rows, weights=[2.2, 1, 4, 1.2, 1.2], size=11)
    for index, word in ((1, "Weight"), (4, "Points"), (3, "100.0")):
        needed = line_count(word, 1000, fit.size, bold=index in (1, 4))
        text_room = fit.columns[index] / EMU_PER_PT - 2 * CELL_MARGIN_X / EMU_PER_PT - SLACK_PT
        assert needed == 1 and line_count(word, text_room, fit.size, bold=True) == 1, word
    assert sum(fit.columns) == int(5.9 * INCH)


def test_a_long_table_shrinks_to_fit_and_says_how_many_rows_fit_at_the_smallest_size():
    header = ["KPI", "Value"]
    rows = [[f"Indicator number {i}", f"{i}.0 %"] for i in range(18)]
    box = (6 * INCH, int(5.55 * INCH))
    fit = fit_table(*box, header, rows, size=16, min_size=10)
    assert 10 <= fit.size < 16 and fit.rows == 18 and fit.height <= box[1]
    # every row gets at least its text's height
    assert all(h >= LINE * fit.size * EMU_PER_PT for h in fit.heights)
    many = [[f"Indicator number {i}", "x"] for i in range(60)]
    fit = fit_table(*box, header, many, size=12, min_size=10)
    assert fit.size == 10 and 0 < fit.rows < 60
    assert sum(fit.heights[:fit.rows + 1]) <= box[1] < sum(fit.heights[:fit.rows + 2])


def test_text_and_bullets_shrink_to_their_box_and_bullets_beyond_it_are_counted():
    title = "Quarterly Business Review — Northwind Traders International Holdings & Cloud Services Group"
    assert text_size(title, 12 * INCH, 2 * INCH, 40, 24, bold=True) < 40
    assert text_size("Short", 12 * INCH, 2 * INCH, 40, 24, bold=True) == 40
    items = [f"Note {i}: something was missing in the quarter and a figure is n/a." for i in range(30)]
    size, count = bullets_fit(items, 12 * INCH, int(5.5 * INCH), 16, 12)
    assert size == 12 and 1 <= count < 30
    assert bullets_fit(items[:3], 12 * INCH, int(5.5 * INCH), 16, 12) == (16, 3)
    assert bullets_fit([], 12 * INCH, INCH, 16, 12) == (16, 0)
