"""The order in which measures sound: repeats and volta endings unfolded.

Forward and backward repeat barlines (with `times`), nested one level deep as printed music uses
them, and volta endings (`<ending number="1, 2">`) are unfolded. Jumps (D.C., D.S., To Coda)
are not: a score with one is refused, or read once through as printed when asked.
"""

from __future__ import annotations

from ugaar_kit.errors import InputError

from .parts import Measure

MAX_GROWTH = 16
"""Refuse an unfolding longer than this many times the printed measures (a malformed loop)."""


def playing_order(measures: list[Measure], where: str) -> list[tuple[int, int]]:
    """`(measure index, pass number)` in sounding order; the pass (1, 2, ...) counts the times the
    enclosing repeated section has been played, so lyrics of verse `pass` can be chosen."""
    order: list[tuple[int, int]] = []
    i, start, pass_no = 0, 0, 1
    in_volta = False
    while i < len(measures):
        m = measures[i]
        if m.forward_repeat and i != start:
            start, pass_no = i, 1
        if m.endings is not None and pass_no not in m.endings:
            i += 1
            continue
        if m.endings is None and in_volta:  # left the last volta: a new section begins here
            start, pass_no = i, 1
        in_volta = m.endings is not None
        order.append((i, pass_no))
        if len(order) > MAX_GROWTH * max(len(measures), 1):
            raise InputError(where, "repeats do not terminate; refusing to unfold")
        if m.backward_repeat:
            if pass_no < m.backward_repeat:
                pass_no += 1
                i = start
                in_volta = False
                continue
            if m.endings is None:
                start, pass_no = i + 1, 1
        i += 1
    return order


def printed_order(measures: list[Measure]) -> list[tuple[int, int]]:
    """Every measure once, as printed (pass 1 throughout)."""
    return [(i, 1) for i in range(len(measures))]


def check_no_jumps(measures: list[Measure], where: str) -> None:
    """Refuse D.C./D.S./To Coda jumps, which unfolding does not follow."""
    for m in measures:
        if m.jumps:
            raise InputError(
                where,
                f"measure {m.number} has a {m.jumps[0]} jump, which is not unfolded; "
                "set -o source.repeats=as-written to read the score once as printed",
            )
