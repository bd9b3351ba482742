"""The read-retry / write-once policy shared by instrument drivers and DUT clients."""

from __future__ import annotations

import pytest

from hil.retry import RetryPolicy


class Lost(Exception):
    """An answer that did not come."""


class Refused(Exception):
    """An answer that came, and said no."""


class Link:
    """A request/answer link whose first `losses` answers are lost; counts what is sent."""

    def __init__(self, losses: int) -> None:
        self.losses = losses
        self.sent = 0

    def request(self) -> str:
        self.sent += 1
        if self.sent <= self.losses:
            raise Lost(f"answer {self.sent} lost")
        return f"answer to request {self.sent}"


def test_a_read_is_sent_again_until_it_is_answered() -> None:
    link = Link(losses=2)
    told: list[tuple[int, int]] = []
    answer = RetryPolicy(retries=2).call(
        link.request, read=True, lost=(Lost,), retrying=lambda n, of: told.append((n, of))
    )
    assert answer == "answer to request 3"
    assert link.sent == 3 and told == [(2, 3), (3, 3)]


def test_a_read_gives_up_after_its_retries_with_the_last_loss() -> None:
    link = Link(losses=5)
    with pytest.raises(Lost, match="answer 3 lost"):
        RetryPolicy(retries=2).call(link.request, read=True, lost=(Lost,))
    assert link.sent == 3


def test_a_write_is_sent_once_whatever_the_retries() -> None:
    link = Link(losses=1)
    told: list[tuple[int, int]] = []
    with pytest.raises(Lost, match="answer 1 lost"):
        RetryPolicy(retries=5).call(
            link.request, read=False, lost=(Lost,), retrying=lambda n, of: told.append((n, of))
        )
    assert link.sent == 1 and told == []
    assert RetryPolicy(retries=5).attempts(read=False) == 1


def test_a_refusal_is_an_answer_and_is_not_asked_again() -> None:
    sent: list[int] = []

    def refused() -> str:
        sent.append(1)
        raise Refused("no")

    with pytest.raises(Refused):
        RetryPolicy(retries=3).call(refused, read=True, lost=(Lost,))
    assert len(sent) == 1


def test_zero_retries_is_one_attempt_and_negative_is_refused() -> None:
    link = Link(losses=1)
    with pytest.raises(Lost):
        RetryPolicy(retries=0).call(link.request, read=True, lost=(Lost,))
    assert link.sent == 1
    with pytest.raises(ValueError, match="retries must be >= 0"):
        RetryPolicy(retries=-1)
