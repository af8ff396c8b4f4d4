"""Long commands show progress as whole lines when their output is not a terminal."""

import io

from mintmark.progress import progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_lines_when_not_a_terminal():
    stream = io.StringIO()
    items = list(progress(range(5), desc="import", unit="image", stream=stream, every_s=0))
    assert items == [0, 1, 2, 3, 4]
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert lines[0].startswith("import: 0/5 images (0 %)")
    assert lines[-1].startswith("import: 5/5 images (100 %)")
    assert len(lines) == 7


def test_generator_without_length():
    stream = io.StringIO()
    assert list(progress(iter("ab"), desc="draw", unit="item", stream=stream, every_s=3600)) == [
        "a",
        "b",
    ]
    assert stream.getvalue().splitlines() == [
        line for line in stream.getvalue().splitlines() if line.startswith("draw: ")
    ]
    assert stream.getvalue().splitlines()[-1].startswith("draw: 2 items")


def test_bar_on_a_terminal():
    stream = Terminal()
    assert list(progress(range(3), desc="import", unit="image", stream=stream)) == [0, 1, 2]
    assert "\r" in stream.getvalue()
