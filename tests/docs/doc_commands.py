"""Shell commands and Python snippets as the documentation shows them.

`doc_commands(path)` reads the fenced code blocks of a Markdown page: ```bash/sh/shell/console
blocks, and plain ``` (or ```text) blocks whose lines start with `ugaar-kit`. It joins `\\`
line continuations, drops `$ ` prompts, output lines of console blocks and `#` comments, and
splits each command into words as a POSIX shell would (quotes, a trailing `> FILE`).
`inline_commands(path)` gives the `ugaar-kit ...` code spans of the prose, for static checks.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHELL_LANGS = frozenset({"bash", "sh", "shell", "console"})
FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`\s]*)")
ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def doc_pages() -> list[Path]:
    """README.md and docs/*.md, but not docs/cli.md (generated from the app and tested as such)."""
    return [REPO / "README.md", *sorted(p for p in (REPO / "docs").glob("*.md") if p.name != "cli.md")]


@dataclass(frozen=True)
class Block:
    """One fenced code block: its info string (language), first content line (1-based), lines."""

    lang: str
    line: int
    lines: tuple[str, ...]


@dataclass(frozen=True)
class DocCommand:
    """One shell command of a page. `text` is the command as one line (prompt, continuations and
    comment removed); `argv` its words; `redirect` the file of a trailing `> FILE`."""

    page: str
    line: int
    text: str
    argv: tuple[str, ...]
    redirect: str | None = None
    inline: bool = False

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def ugaar_args(self) -> tuple[str, ...] | None:
        """The arguments after `ugaar-kit` (also `python -m ugaar_kit`, `torchrun ... -m ugaar_kit`,
        `.venv/bin/ugaar-kit`, with leading `VAR=value` assignments); None for other programs."""
        words = list(self.argv)
        while words and ENV_ASSIGNMENT.match(words[0]):
            words.pop(0)
        if not words:
            return None
        if Path(words[0]).name == "ugaar-kit":
            return tuple(words[1:])
        if "-m" in words[:-1] and words[words.index("-m") + 1] == "ugaar_kit":
            program = Path(words[0]).name
            if program.startswith("python") or program == "torchrun":
                return tuple(words[words.index("-m") + 2 :])
        return None


@dataclass(frozen=True)
class PythonSnippet:
    page: str
    line: int
    code: str
    names: tuple[str, ...] = field(default=())

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def fenced_blocks(text: str) -> Iterator[Block]:
    """Every fenced code block of Markdown `text` (backtick or tilde fences, up to 3 spaces indent)."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, indent = m.group("fence"), len(m.group("indent"))
        body: list[str] = []
        j = i + 1
        while j < len(lines):
            close = lines[j].strip()
            if close.startswith(fence[0] * len(fence)) and not close.strip(fence[0]):
                break
            body.append(lines[j][indent:] if lines[j][:indent].isspace() else lines[j])
            j += 1
        yield Block(m.group("info").lower(), i + 2, tuple(body))
        i = j + 1


def strip_comment(line: str) -> str:
    """`line` without a shell comment: a `#` at the start of a word, outside quotes."""
    quote = ""
    for k, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
            elif ch == "\\" and quote == '"':
                continue
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (k == 0 or line[k - 1].isspace()):
            return line[:k].rstrip()
    return line.rstrip()


def _logical_lines(block: Block) -> Iterator[tuple[int, str]]:
    """(line number, command) of a shell block: prompts dropped, continuations joined; in a
    console block only `$ ` lines (and their continuations) are commands, the rest is output.
    In a plain block only lines starting with `ugaar-kit` are."""
    console = block.lang == "console"
    shell = block.lang in SHELL_LANGS
    k = 0
    while k < len(block.lines):
        raw = block.lines[k]
        start = block.line + k
        k += 1
        stripped = raw.strip()
        if console or not shell:
            if stripped.startswith("$ "):
                stripped = stripped[2:].strip()
            elif console or not stripped.startswith("ugaar-kit"):
                continue
            if not shell and not stripped.startswith("ugaar-kit"):
                continue
        parts = [strip_comment(stripped)]
        while parts[-1].endswith("\\") and k < len(block.lines):
            parts[-1] = parts[-1][:-1].rstrip()
            parts.append(strip_comment(block.lines[k].strip()))
            k += 1
        command = " ".join(p for p in parts if p)
        if command:
            yield start, command


def split_command(text: str) -> tuple[tuple[str, ...], str | None]:
    """Words of a command and the target of a trailing `> FILE` redirection."""
    words = shlex.split(text)
    if len(words) >= 2 and words[-2] == ">":
        return tuple(words[:-2]), words[-1]
    return tuple(words), None


def _page_name(path: Path) -> str:
    return path.relative_to(REPO).as_posix() if path.is_relative_to(REPO) else path.name


def commands_in(text: str, page: str) -> list[DocCommand]:
    """The shell commands of Markdown `text` (see the module docstring)."""
    out = []
    for block in fenced_blocks(text):
        if block.lang not in SHELL_LANGS and block.lang not in ("", "text"):
            continue
        for line, command in _logical_lines(block):
            argv, redirect = split_command(command)
            out.append(DocCommand(page, line, command, argv, redirect))
    return out


def doc_commands(path: Path) -> list[DocCommand]:
    return commands_in(path.read_text(encoding="utf-8"), _page_name(path))


INLINE = re.compile(r"(?<!`)`(ugaar-kit [^`]+)`(?!`)")


def prose_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, line) of a page's lines outside fenced blocks and their fences."""
    text = path.read_text(encoding="utf-8")
    fenced: set[int] = set()
    for block in fenced_blocks(text):
        fenced.update(range(block.line - 1, block.line + len(block.lines) + 1))
    return [(n, line) for n, line in enumerate(text.splitlines(), start=1) if n not in fenced]


def inline_commands(path: Path) -> list[DocCommand]:
    """`ugaar-kit ...` code spans in the prose (outside fenced blocks)."""
    out = []
    for n, line in prose_lines(path):
        for m in INLINE.finditer(line):
            argv, redirect = split_command(m.group(1))
            out.append(DocCommand(_page_name(path), n, m.group(1), argv, redirect, inline=True))
    return out


def python_snippets(path: Path) -> list[PythonSnippet]:
    """The ```python blocks of a page."""
    text = path.read_text(encoding="utf-8")
    return [
        PythonSnippet(_page_name(path), b.line, "\n".join(b.lines) + "\n")
        for b in fenced_blocks(text)
        if b.lang in ("python", "py")
    ]


INLINE_OVERRIDE = re.compile(r"-o ([A-Za-z_][\w-]*\.[\w-]+=[^\s`]*)")


def inline_overrides(path: Path) -> list[tuple[str, str]]:
    """(where, `SLOT.key=value`) of every `-o SLOT.key=value` inside a code span of the prose."""
    out = []
    for n, line in prose_lines(path):
        for span in re.findall(r"`([^`]+)`", line):
            out.extend((f"{_page_name(path)}:{n}", m) for m in INLINE_OVERRIDE.findall(span))
    return out
