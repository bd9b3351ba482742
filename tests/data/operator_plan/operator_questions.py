"""A plan step that asks the operator, for the panel and answers-file tests (given by path, never collected alone)."""

import pytest


@pytest.mark.requirement("OPERATOR-DEMO")
def test_operator_questions(operator, recorder):
    operator.confirm("Close the fixture")
    colour = operator.ask("Colour of the label on the unit?")
    recorder.write("note", text=f"label colour {colour}")
    assert colour == "green", f"label colour {colour!r}, expected 'green'"
