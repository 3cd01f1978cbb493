"""Walking inputs: sorted, hidden files skipped, no symbolic link out of a root followed."""

from __future__ import annotations

import os

import pytest

from ugaar_kit.data.walk import Found, Rejected, Walker
from ugaar_kit.errors import InputError


def test_walk_sorted_skips_hidden_and_reports_links_out(folder):
    walker = Walker([folder], lambda s: s in {".wav", ".png", ".txt"})
    entries = list(walker)
    found = [e.source for e in entries if isinstance(e, Found)]
    rejected = {e.source: e.reason for e in entries if isinstance(e, Rejected)}
    assert found == sorted(found)
    assert "songs/a.wav" in found and "songs/deep/c.wav" in found
    assert not any(s.startswith((".", "inside-link")) or "/." in s for s in found)
    assert set(rejected) == {"escape", "songs/outside.wav"}
    assert "outside the input" in rejected["escape"]
    assert walker.ignored == 1  # README.md


def test_link_inside_the_root_to_a_file_is_followed(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d/real.txt").write_text("la la")
    os.symlink(tmp_path / "d/real.txt", tmp_path / "d/alias.txt")
    os.symlink(tmp_path / "d/nothing.txt", tmp_path / "d/broken.txt")
    entries = list(Walker([tmp_path / "d"]))
    assert [e.source for e in entries if isinstance(e, Found)] == ["alias.txt", "real.txt"]
    assert [(e.source, e.reason) for e in entries if isinstance(e, Rejected)] == [
        ("broken.txt", "broken symbolic link")
    ]


def test_several_roots_are_prefixed_and_must_have_distinct_names(tmp_path):
    for d in ("x/data", "y/data", "y/more"):
        (tmp_path / d).mkdir(parents=True)
        (tmp_path / d / "f.txt").write_text("a")
    (tmp_path / "single.txt").write_text("b")
    found = [e.source for e in Walker([tmp_path / "x/data", tmp_path / "y/more", tmp_path / "single.txt"])]
    assert found == ["data/f.txt", "more/f.txt", "single.txt"]
    with pytest.raises(InputError, match="two input folders are named 'data'"):
        Walker([tmp_path / "x/data", tmp_path / "y/data"])
