"""Seconds along a score from its tempo marks (quarter notes a minute, piecewise constant)."""

from __future__ import annotations

import bisect


class TempoMap:
    """Seconds from quarter-note times under piecewise-constant tempo marks."""

    def __init__(self, marks: list[tuple[float, float]]) -> None:
        marks = sorted(marks)
        self.times = [t for t, _ in marks]
        self.bpms = [b for _, b in marks]
        self.seconds = [0.0]
        for k in range(1, len(marks)):
            self.seconds.append(self.seconds[-1] + (self.times[k] - self.times[k - 1]) * 60.0 / self.bpms[k - 1])

    def __bool__(self) -> bool:
        return bool(self.times)

    def bpm_at(self, t: float) -> float:
        k = max(bisect.bisect_right(self.times, t) - 1, 0)
        return self.bpms[k]

    def at(self, t: float) -> float:
        """Seconds at quarter-note time `t` (before the first mark, its tempo applies)."""
        k = max(bisect.bisect_right(self.times, t) - 1, 0)
        return self.seconds[k] + (t - self.times[k]) * 60.0 / self.bpms[k]
