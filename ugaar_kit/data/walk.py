"""Walking input files and folders for `embed`: recursive, sorted, never leaving the roots.

Rules:
- Hidden files and folders (a name starting with `.`) are skipped, below the roots given.
- A symbolic link is followed only when its target lies inside the same root: a link to a
  file outside (or a broken link) is reported as `Rejected`, and so is a link to a folder
  outside. A link to a folder inside the root is not followed (the walk reaches that folder
  anyway), so no file is seen twice and no loop is possible.
- Each file gets a `source`: its path relative to its root, in `/` form, prefixed by the
  root's name when several roots are given (`songs/a.wav`); a root that is a file is its name.
- Only files whose suffix `accept` takes are yielded; the others are counted in `ignored`.
- Paths in `exclude` are skipped, and so is everything named after them (`EMB.h5` excludes
  `EMB.h5.journal/` and `EMB.h5.audio.faiss` too): an output inside an input is not read back.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ugaar_kit.errors import InputError


@dataclass(frozen=True)
class Found:
    """A file to embed, with its size and modification time when walked."""

    path: Path
    source: str
    size: int
    mtime: float

    @property
    def suffix(self) -> str:
        return self.path.suffix.lower()


@dataclass(frozen=True)
class Rejected:
    """A path that was skipped, and why (a link out of its root, an unreadable folder)."""

    source: str
    reason: str


class Walker:
    """Iterate over `Found` and `Rejected` entries under `roots`; `ignored` counts the files
    `accept` refused (other extensions)."""

    def __init__(
        self,
        roots: Sequence[str | Path],
        accept: Callable[[str], bool] = lambda suffix: True,
        exclude: Sequence[str | Path] = (),
    ) -> None:
        self.roots = [Path(r) for r in roots]
        self.accept = accept
        self.exclude = tuple(os.path.abspath(p) for p in exclude)
        self.ignored = 0
        if not self.roots:
            raise InputError(".", "no input files or folders given")
        for r in self.roots:
            if not r.exists() and not r.is_symlink():
                raise InputError(r, "no such file or folder")
        self.labels = self._labels()

    def root_records(self) -> list[dict[str, str]]:
        """Each root as `{"label", "path"}` (absolute): what a store records so that a source
        can be found again (`label/rest` under a folder labelled so, a file's name for a file)."""
        return [{"label": label, "path": str(r.resolve())} for r, label in zip(self.roots, self.labels)]

    def _labels(self) -> list[str]:
        """The prefix of each root's sources: '' for one root or a file, else the folder's name."""
        if len(self.roots) == 1:
            return [""]
        labels = []
        seen: dict[str, Path] = {}
        for r in self.roots:
            if r.is_dir():
                name = r.resolve().name or "root"
                if name in seen:
                    raise InputError(
                        r,
                        f"two input folders are named '{name}' (also {seen[name]}); their files would get the same ids",
                    )
                seen[name] = r
                labels.append(name)
            else:
                labels.append("")
        return labels

    def __iter__(self) -> Iterator[Found | Rejected]:
        for root, label in zip(self.roots, self.labels):
            if root.is_dir():
                yield from self._walk(root.resolve(), root, (label,) if label else ())
            else:
                yield from self._file(root, root.name, os.stat(root))

    def _file(self, path: Path, source: str, st: os.stat_result) -> Iterator[Found | Rejected]:
        if not self.accept(path.suffix.lower()):
            self.ignored += 1
            return
        if not stat.S_ISREG(st.st_mode):
            yield Rejected(source, "not a regular file")
            return
        yield Found(path, source, int(st.st_size), float(st.st_mtime))

    def _walk(self, real_root: Path, folder: Path, prefix: tuple[str, ...]) -> Iterator[Found | Rejected]:
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            yield Rejected("/".join(prefix) or str(folder), f"cannot read folder ({exc.strerror})")
            return
        for e in entries:
            if e.name.startswith(".") or self._excluded(e.path):
                continue
            parts = (*prefix, e.name)
            source = "/".join(parts)
            path = Path(e.path)
            try:
                if e.is_symlink():
                    yield from self._link(real_root, path, source)
                elif e.is_dir(follow_symlinks=False):
                    yield from self._walk(real_root, path, parts)
                else:
                    yield from self._file(path, source, e.stat(follow_symlinks=False))
            except OSError as exc:
                yield Rejected(source, f"cannot read ({exc.strerror})")

    def _excluded(self, path: str) -> bool:
        if not self.exclude:
            return False
        full = os.path.abspath(path)
        return any(full == p or full.startswith(p + ".") for p in self.exclude)

    def _link(self, real_root: Path, path: Path, source: str) -> Iterator[Found | Rejected]:
        try:
            target = path.resolve(strict=True)
        except (OSError, RuntimeError):
            if self.accept(path.suffix.lower()):
                yield Rejected(source, "broken symbolic link")
            else:
                self.ignored += 1
            return
        inside = target.is_relative_to(real_root)
        if target.is_dir():
            if not inside:
                yield Rejected(source, f"symbolic link to a folder outside the input ({target})")
            return  # a folder inside the root is walked as itself
        if not self.accept(path.suffix.lower()):
            self.ignored += 1
            return
        if not inside:
            yield Rejected(source, f"symbolic link to a file outside the input ({target})")
            return
        yield from self._file(path, source, os.stat(target))
