"""Opening a MusicXML file safely: plain `.musicxml`/`.xml`, or a compressed `.mxl` zip.

An `.mxl` names its score in `META-INF/container.xml` (`<rootfile full-path="...">`); that name
is refused when absolute or climbing out with `..`, and no entry is ever extracted to disk. The
XML parser neither loads DTDs, nor resolves entities, nor touches the network.
"""

from __future__ import annotations

import zipfile
from pathlib import Path, PurePosixPath

from lxml import etree

from ugaar_kit.errors import InputError

MAX_BYTES = 64 * 1024 * 1024
"""The largest score (uncompressed) read; real MusicXML files are a few MB at most."""

_ZIP_MAGIC = b"PK\x03\x04"


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, remove_comments=True, remove_pis=True, huge_tree=False
    )


def parse_xml(data: bytes, where: str | Path) -> etree._Element:
    """The root element of XML `data`, or InputError naming `where` with the parser's message."""
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise InputError(where, f"malformed XML ({exc.msg})") from None
    if root is None:
        raise InputError(where, "empty XML document")
    return root


def _safe_member(name: str, path: Path) -> str:
    member = PurePosixPath(name.replace("\\", "/"))
    if member.is_absolute() or ".." in member.parts or not member.parts:
        raise InputError(path, f"zip entry '{name}' points outside the archive; refused")
    return str(member)


def _root_name(zf: zipfile.ZipFile, path: Path) -> str:
    names = set(zf.namelist())
    if "META-INF/container.xml" in names:
        container = parse_xml(_read_member(zf, "META-INF/container.xml", path), f"{path}!META-INF/container.xml")
        for rootfile in container.iter("{*}rootfile", "rootfile"):
            full = rootfile.get("full-path")
            media = rootfile.get("media-type") or "application/vnd.recordare.musicxml+xml"
            if full and "musicxml" in media:
                name = _safe_member(full, path)
                if name not in names:
                    raise InputError(path, f"container.xml names '{full}', which is not in the archive")
                return name
        raise InputError(path, "META-INF/container.xml names no MusicXML root file")
    candidates = sorted(n for n in names if n.lower().endswith((".xml", ".musicxml")) and not n.startswith("META-INF/"))
    if not candidates:
        raise InputError(path, "no MusicXML file inside the .mxl archive")
    return _safe_member(candidates[0], path)


def _read_member(zf: zipfile.ZipFile, name: str, path: Path) -> bytes:
    if zf.getinfo(name).file_size > MAX_BYTES:
        raise InputError(path, f"'{name}' is larger than {MAX_BYTES // 2**20} MB; refused")
    with zf.open(name) as fh:
        data = fh.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise InputError(path, f"'{name}' is larger than {MAX_BYTES // 2**20} MB; refused")
    return data


def read_score_xml(path: Path) -> etree._Element:
    """The `<score-partwise>` root of a `.musicxml`, `.xml` or `.mxl` file.

    Raises InputError for an unreadable or oversized file, a broken zip, malformed XML, or a
    document that is not a part-wise MusicXML score."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(4)
        if head == _ZIP_MAGIC:
            with zipfile.ZipFile(path) as zf:
                name = _root_name(zf, path)
                data = _read_member(zf, name, path)
        else:
            if path.stat().st_size > MAX_BYTES:
                raise InputError(path, f"larger than {MAX_BYTES // 2**20} MB; refused")
            data = path.read_bytes()
    except zipfile.BadZipFile as exc:
        raise InputError(path, f"not a readable .mxl archive ({exc})") from None
    except OSError as exc:
        raise InputError(path, f"cannot read ({exc.strerror or exc})") from None
    root = parse_xml(data, path)
    tag = etree.QName(root).localname
    if tag == "score-timewise":
        raise InputError(path, "time-wise MusicXML is not supported; export the score as part-wise MusicXML")
    if tag != "score-partwise":
        raise InputError(path, f"not a MusicXML score (root element <{tag}>)")
    return root
