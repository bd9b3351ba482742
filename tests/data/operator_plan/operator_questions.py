"""A plan step that asks the operator, for the panel and answers-file tests.

Given by path only: its name keeps it out of the test suite's own collection.
"""

import pytest

from fixtures.operator import Operator
from hil.record import Recorder


@pytest.mark.requirement("OPERATOR-DEMO")
def test_operator_questions(operator: Operator, recorder: Recorder) -> None:
    operator.confirm("Close the fixture")
    colour = operator.ask("Colour of the label on the unit?")
    recorder.write("note", text=f"label colour {colour}")
    assert colour == "green", f"label colour {colour!r}, expected 'green'"
