"""Bench actions on the BMS Logic boards' internal link (MM-LOGIC): lose one board, bring it back.

A Logic board runs from its own cells, so switching the cell emulator's channels of one board off
takes its cells below the board's minimum: the board goes off the internal RS-485 link, as a broken
link would make it (on a real bench the real board goes dark; the sim's twin models it through
sim/plant.py LOGIC_MIN_V). Every station of the plan provides this: it needs no further role.
"""

from __future__ import annotations

from hil.duts.movicom_main_2.bench import MovicomBench
from hil.duts.movicom_main_2.terminals import cell_terminal


def board_cells(bench: MovicomBench, board: int) -> list[str]:
    """The cell emulator terminals of Logic board `board` (1-based) in the unit's configuration."""
    return [cell_terminal(board, c) for c in range(1, bench.config.logic.cells_per_board + 1)]


def set_board_powered(bench: MovicomBench, board: int, on: bool) -> None:
    """The cell emulator outputs of one Logic board on or off (off: the board is off the link)."""
    cells = board_cells(bench, board)
    for instrument in bench.cells.instruments:
        mine = [t for t in cells if t in instrument.info.channels]
        if mine:
            instrument.set_output(on, mine)
    bench.log_event(f"Logic board {board} cells", "on" if on else "off")


def lose_board(bench: MovicomBench, board: int) -> str:
    """Take Logic board `board` off the internal link; returns what was done (a result's method)."""
    set_board_powered(bench, board, False)
    return (
        f"Logic board {board} unpowered: cell emulator outputs {', '.join(board_cells(bench, board))} off "
        "(the board runs from its cells; below its minimum it is off the internal link)"
    )


def restore_board(bench: MovicomBench, board: int) -> None:
    """Logic board `board` powered again at the nominal cell voltage."""
    bench.set_board_cells(board, bench.NOMINAL_CELL_V)
    set_board_powered(bench, board, True)
