"""hil.gcpause: the cyclic collector is off inside a pause, back on after, and nothing is lost."""

from __future__ import annotations

import gc
import weakref

import pytest

from hil.gcpause import collection_paused


class _Node:
    """An object that can be put in a reference cycle."""

    def __init__(self) -> None:
        self.other: _Node | None = None


def test_the_collector_is_off_inside_and_on_after_even_when_the_work_fails() -> None:
    assert gc.isenabled()
    with collection_paused():
        assert not gc.isenabled()
        with collection_paused():  # nested: still off, and the outer pause still owns it
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ValueError), collection_paused():
        raise ValueError("the work failed")
    assert gc.isenabled()


def test_a_collector_disabled_before_stays_disabled() -> None:
    gc.disable()
    try:
        with collection_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_cycles_made_inside_are_collected_after() -> None:
    with collection_paused():
        a, b = _Node(), _Node()
        a.other, b.other = b, a
        ref = weakref.ref(a)
        del a, b
        assert ref() is not None  # a cycle: reference counting alone cannot free it
    gc.collect()
    assert ref() is None
