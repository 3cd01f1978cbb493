"""The `manifest` item source: validation naming file and line, path escapes, and writing a
dataset folder that `DatasetFolder` reads back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ugaar_kit_plugins.dataset_manifest.folder import assign_splits, write_dataset_folder
from ugaar_kit_plugins.dataset_manifest.source import ManifestError, ManifestSource

from ugaar_kit.errors import InputError
from ugaar_kit.interfaces.dataset import DatasetFolder


@pytest.fixture
def user_data(tmp_path: Path) -> Path:
    """A user's folder: 12 songs of 2 passages, each with audio, a sheet image and lyrics."""
    root = tmp_path / "mine"
    (root / "wav").mkdir(parents=True)
    (root / "img").mkdir()
    (root / "txt").mkdir()
    rows = ["id,song,audio,sheet,lyrics"]
    for s in range(12):
        for k in range(2):
            pid = f"s{s}-{k}"
            (root / "wav" / f"{pid}.wav").write_bytes(f"RIFF{pid}".encode())
            (root / "img" / f"{pid}.png").write_bytes(f"PNG{pid}".encode())
            if k == 0:
                (root / "txt" / f"{pid}.txt").write_text(f"Baby, I'm startin' line {s}\n", encoding="utf-8")
                lyrics = f"txt/{pid}.txt"
            else:
                lyrics = f'"Wanna be, song {s}"'
            rows.append(f"{pid},song{s},wav/{pid}.wav,img/{pid}.png,{lyrics}")
    (root / "manifest.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root / "manifest.csv"


def test_valid_manifest_gives_items_with_absolute_paths(user_data: Path) -> None:
    items = ManifestSource().read(user_data)
    assert len(items) == 24
    first = items[0]
    assert first.id == "s0-0" and first.song == "song0" and first.split is None
    assert first.audio == (user_data.parent / "wav" / "s0-0.wav").resolve() and first.audio.is_absolute()
    assert first.lyrics == "Baby, I'm startin' line 0"  # read from the .txt file
    assert items[1].lyrics == "Wanna be, song 0"  # inline text
    assert first.meta["manifest_line"] == 2


def test_defaults_id_from_line_and_song_from_id(tmp_path: Path) -> None:
    (tmp_path / "a.wav").write_bytes(b"x")
    manifest = tmp_path / "m.jsonl"
    manifest.write_text('\n{"audio": "a.wav", "lyrics": "hello there", "mood": "calm"}\n', encoding="utf-8")
    (item,) = ManifestSource().read(manifest)
    assert (item.id, item.song, item.sheet, item.meta["mood"]) == ("2", "2", None, "calm")


def test_errors_name_the_file_and_line_and_all_rows_are_checked(tmp_path: Path) -> None:
    (tmp_path / "ok.wav").write_bytes(b"x")
    (tmp_path / "ok.png").write_bytes(b"x")
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(
        "id,song,split,audio,sheet,lyrics\n"
        "a,s1,train,ok.wav,ok.png,la la\n"  # line 2: fine
        "b,s1,train,x.wav,ok.png,\n"  # line 3: missing audio file
        "c,s2,holdout,ok.wav,,la\n"  # line 4: unknown split
        "a,s3,,ok.wav,ok.png,\n"  # line 5: duplicate id
        "d,s4,,,,only text\n"  # line 6: one modality
        "e,s1,test,ok.wav,ok.png,\n"  # line 7: song s1 in two splits
        "f,s5,,ok.wav,,gone.txt\n",  # line 8: missing lyrics file
        encoding="utf-8",
    )
    with pytest.raises(ManifestError) as err:
        ManifestSource().read(manifest)
    message = str(err.value)
    assert message.startswith(f"{manifest}:3: audio file 'x.wav' does not exist (5 more problems: ")
    assert "\n" not in message
    assert [line for line, _ in err.value.problems] == [3, 4, 5, 6, 7, 8]
    problems = dict(err.value.problems)
    assert problems[4] == "split 'holdout' is not one of train, valid, test"
    assert problems[5] == "id 'a' is already used on line 2"
    assert problems[6] == "needs at least two of audio, sheet, lyrics or a file:/text: column (has lyrics)"
    assert problems[7] == "song 's1' is in split 'test' here but 'train' on line 2"
    assert problems[8] == "lyrics file 'gone.txt' does not exist"
    assert isinstance(err.value, InputError)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("../outside.wav", "audio path '../outside.wav' points outside the dataset folder"),
        ("sub/../../outside.wav", "audio path 'sub/../../outside.wav' points outside the dataset folder"),
        ("/etc/hostname", "audio path '/etc/hostname' must be relative to the dataset folder"),
    ],
)
def test_paths_escaping_the_manifest_folder_are_refused(tmp_path: Path, value: str, problem: str) -> None:
    (tmp_path / "outside.wav").write_bytes(b"x")  # exists, but outside the manifest's folder
    root = tmp_path / "data"
    (root / "sub").mkdir(parents=True)
    manifest = root / "manifest.jsonl"
    manifest.write_text(json.dumps({"id": "x", "audio": value, "lyrics": "la"}) + "\n", encoding="utf-8")
    with pytest.raises(ManifestError) as err:
        ManifestSource().read(manifest)
    assert err.value.problems == [(1, problem)]


def test_unparseable_rows_are_reported_with_their_line(tmp_path: Path) -> None:
    (tmp_path / "a.wav").write_bytes(b"x")
    jsonl = tmp_path / "m.jsonl"
    jsonl.write_text('{"audio": "a.wav", "lyrics": "la"}\n{"audio": "a.wav",\n[1, 2]\n', encoding="utf-8")
    with pytest.raises(ManifestError) as err:
        ManifestSource().read(jsonl)
    assert [(ln, p.split(" (")[0]) for ln, p in err.value.problems] == [
        (2, "invalid JSON"),
        (3, "each line must be a JSON object"),
    ]
    csv = tmp_path / "m.csv"
    csv.write_text("audio,lyrics\na.wav,la,extra\n", encoding="utf-8")
    with pytest.raises(ManifestError, match=r"m\.csv:2: 3 cells but the header has 2 columns"):
        ManifestSource().read(csv)
    with pytest.raises(InputError, match="unknown manifest type '.xlsx'"):
        ManifestSource().read(tmp_path / "m.xlsx")


def test_assign_splits_is_by_song_seeded_and_proportional() -> None:
    songs = [f"song{k}" for k in range(50)]
    a = assign_splits(songs, (0.8, 0.1, 0.1), seed=3)
    assert a == assign_splits(list(reversed(songs)), (0.8, 0.1, 0.1), seed=3)  # order-free
    assert a != assign_splits(songs, (0.8, 0.1, 0.1), seed=4)
    counts = {s: list(a.values()).count(s) for s in ("train", "valid", "test")}
    assert counts == {"train": 40, "valid": 5, "test": 5}
    tiny = assign_splits(["x", "y", "z"], (0.8, 0.1, 0.1), seed=0)
    assert sorted(tiny.values()) == ["test", "train", "valid"]
    with pytest.raises(ValueError, match="sum to 1"):
        assign_splits(songs, (0.5, 0.1, 0.1), seed=0)


def test_written_folder_round_trips_through_dataset_folder(user_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "built"
    source = ManifestSource.from_options({"seed": "7", "valid_fraction": "0.25", "test_fraction": "0.25"})
    info = source.write_folder(user_data, out)
    folder = DatasetFolder(out)
    assert len(folder.items) == 24 and folder.modalities() == ("audio", "sheet", "lyrics")
    assert info["splits"] == {"train": 12, "valid": 6, "test": 6} and info["songs"] == 12
    assert folder.info["id"] == info["id"]
    # every passage of a song is in the same split
    by_song: dict[str, set[str]] = {}
    for it in folder.items:
        by_song.setdefault(it.song, set()).add(it.split)
    assert all(len(s) == 1 for s in by_song.values())
    # files outside the folder were linked in under relative paths, with the same bytes
    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text(encoding="utf-8").splitlines()]
    assert rows[0]["audio"] == "audio/s0-0.wav" and rows[0]["sheet"] == "sheet/s0-0.png"
    first = folder.items[0]
    assert first.audio.read_bytes() == b"RIFFs0-0" and first.sheet.read_bytes() == b"PNGs0-0"
    # lyrics stored normalized, the text as given kept beside
    assert first.lyrics == "ba by i'm start ing line 0"
    assert first.meta["lyrics_text"] == "Baby, I'm startin' line 0"
    # the same input and seed give the same folder, byte for byte
    again = tmp_path / "again"
    source.write_folder(user_data, again)
    assert (again / "manifest.jsonl").read_bytes() == (out / "manifest.jsonl").read_bytes()


def test_folder_inside_the_manifest_folder_keeps_paths_and_explicit_splits(tmp_path: Path) -> None:
    root = tmp_path / "data"
    root.mkdir()
    (root / "a.wav").write_bytes(b"x")
    manifest = root / "manifest.csv"
    manifest.write_text("id,split,audio,lyrics\none,test,a.wav,hello\n", encoding="utf-8")
    write_dataset_folder(ManifestSource().read(manifest), root)
    (item,) = DatasetFolder(root).items
    assert item.split == "test" and item.audio == (root / "a.wav").resolve()
    assert json.loads((root / "manifest.jsonl").read_text(encoding="utf-8"))["audio"] == "a.wav"


def test_a_plugin_modality_comes_in_file_and_text_columns_and_round_trips(tmp_path: Path) -> None:
    """`file:NAME` / `text:NAME` columns carry a plugin's modality: the item's `inputs` hold its
    file (checked, made absolute) or text, the written folder keeps them in `files` / `texts`,
    and `DatasetFolder` reads them back as the same inputs."""
    root = tmp_path / "mine"
    (root / "notes").mkdir(parents=True)
    rows = ["id,song,audio,file:notes,text:key"]
    for s in range(6):
        (root / f"s{s}.wav").write_bytes(b"RIFF")
        (root / "notes" / f"s{s}.notes").write_text("60\n62\n", encoding="utf-8")
        rows.append(f"s{s},song{s},s{s}.wav,notes/s{s}.notes,C major")
    (root / "m.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    items = ManifestSource().read(root / "m.csv")
    assert items[0].inputs["notes"] == (root / "notes" / "s0.notes").resolve()
    assert items[0].get("key") == "C major" and "file:notes" not in items[0].meta
    write_dataset_folder(items, tmp_path / "data")
    folder = DatasetFolder(tmp_path / "data")
    row = json.loads((tmp_path / "data" / "manifest.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert row["files"] == {"notes": "notes/s0.notes"} and row["texts"] == {"key": "C major"}
    back = folder.items[0]
    assert back.get("notes").read_text(encoding="utf-8") == "60\n62\n" and back.get("key") == "C major"
    assert folder.modalities() == ("audio", "key", "notes")
    assert json.loads((tmp_path / "data" / "dataset.json").read_text())["modalities"] == ["audio", "key", "notes"]


@pytest.mark.parametrize(
    ("header", "value", "problem"),
    [
        ("file:audio", "a.wav", "column 'file:audio': 'audio' is not a plugin modality name"),
        ("file:Notes", "a.wav", "column 'file:Notes': 'Notes' is not a plugin modality name"),
        ("file:notes", "missing.notes", "notes file 'missing.notes' does not exist"),
        ("file:notes", "../out.notes", "notes path '../out.notes' points outside the dataset folder"),
    ],
)
def test_bad_plugin_modality_columns_are_named(tmp_path: Path, header: str, value: str, problem: str) -> None:
    (tmp_path / "a.wav").write_bytes(b"x")
    (tmp_path / "m.csv").write_text(f"id,audio,{header}\nx,a.wav,{value}\n", encoding="utf-8")
    with pytest.raises(ManifestError) as err:
        ManifestSource().read(tmp_path / "m.csv")
    assert any(p.startswith(problem) for line, p in err.value.problems if line == 2), err.value.problems
