"""benchmarks/page_crops.py cuts a page's systems the ways it compares: around the staff at fixed
margins, or each window to its own ink rows."""

from __future__ import annotations

import numpy as np
import page_crops

from ugaar_kit.data.staves import StaffBox


def test_a_system_is_cut_at_fixed_margins_around_its_staff() -> None:
    page = np.ones((400, 300), dtype=np.float32)
    staff = StaffBox(x0=20, x1=280, top=100, bottom=140, y0=60, y1=180)
    cut = page_crops._around_staff(page, staff, above=0.37, below=0.44)
    # 0.37 and 0.44 of the 40-px staff: rows 85 to 158, the staff's own columns
    assert cut.shape == (159 - 85, 260)
    strip, own = page_crops.cutter("staff-median")
    assert not own and strip(page, staff).shape == cut.shape


def test_a_window_cropped_to_its_own_ink_keeps_its_ink_rows_and_a_margin() -> None:
    window = np.ones((100, 50), dtype=np.float32)
    window[30:61, 10:20] = 0.0  # ink on rows 30..60
    cropped = page_crops._own_rows(window)
    assert cropped.shape == (31 + 2 * 1, 50)  # a 1-px margin (2% of 31 rows) each side
    assert page_crops._own_rows(np.ones((10, 5), dtype=np.float32)).shape == (10, 5)  # blank: kept
    assert page_crops.cutter("window-ink")[1] and page_crops.cutter("staff-wide")[1]
