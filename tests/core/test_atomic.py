"""Atomic writes: the target is its old content or its whole new content, and nothing is left
beside it."""

from __future__ import annotations

import os
import stat

import pytest

from ugaar_kit.infra.atomic import atomic_open, atomic_path, write_bytes, write_text


def test_a_write_replaces_the_whole_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "sub" / "run.json"
    write_text(target, "old\n")  # the folder is created
    write_text(target, "new\n")
    write_bytes(tmp_path / "b.bin", b"\x00\x01", durable=False)
    assert target.read_text() == "new\n" and (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in target.parent.iterdir()) == ["run.json"]


def test_an_error_while_writing_keeps_the_old_content(tmp_path):
    target = tmp_path / "config.toml"
    write_text(target, "kept\n")
    with pytest.raises(RuntimeError):
        with atomic_open(target, "w") as fh:
            fh.write("half")
            raise RuntimeError("interrupted")
    assert target.read_text() == "kept\n"
    assert [p.name for p in tmp_path.iterdir()] == ["config.toml"]


def test_atomic_path_names_a_sibling_with_the_writers_suffix(tmp_path):
    target = tmp_path / "curves.png"
    with atomic_path(target, suffix=".png") as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".curves.png.") and tmp.suffix == ".png"
        assert not tmp.exists()  # its writer creates it
        tmp.write_bytes(b"png")
        assert not target.exists()  # not before the block ends
    assert target.read_bytes() == b"png" and not tmp.exists()


def test_new_files_get_the_umasks_permissions_not_owner_only(tmp_path):
    old = os.umask(0o022)
    try:
        write_text(tmp_path / "shared.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "shared.txt").stat().st_mode) == 0o644


def test_only_whole_file_modes_are_offered(tmp_path):
    with pytest.raises(ValueError, match="whole file"):
        with atomic_open(tmp_path / "x", "a"):
            pass
