"""`ugaar-kit serve`'s JSON API through Starlette's test client: the same answers as the CLI,
stored items and their files, upload limits, errors that leave the server serving."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from ugaar_kit.testing.data import write_wav
from ugaar_kit.testing.store_cli import store_app


def cli_search(registry, served, *args):
    """The objects `ugaar-kit search ... --json` prints."""
    result = CliRunner().invoke(
        store_app(registry),
        ["search", *map(str, args), "--index", str(served["store"]), "--run", str(served["run"]), "--json"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]


def upload(client, path, **fields):
    with open(path, "rb") as fh:
        return client.post("/api/search", files={"file": (path.name, fh.read())}, data=fields)


def test_info_names_the_store_and_what_a_query_may_be(client, served):
    info = client.get("/api/info").json()
    assert info["modalities"] == ["audio", "lyrics", "sheet"]
    assert info["rows"]["sheet"] == 2 and info["rows"]["lyrics"] == 3  # a.png, b.png; three lines
    assert info["extensions"][".wav"] == "audio" and info["extensions"][".png"] == "sheet"
    assert info["text_modalities"] == ["lyrics"] and info["limits"]["max_bytes"] == 2 * 1024 * 1024


def test_the_page_and_its_files_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert '<script src="/app.js">' in page.text
    assert "POST /api/search" in client.get("/app.js").text or "/api/search" in client.get("/app.js").text
    assert client.get("/style.css").headers["content-type"].startswith("text/css")


def test_a_file_search_gives_the_cli_results(client, served, registry):
    query = served["folder"] / "songs/b.wav"
    response = upload(client, query, k="3", target=["audio", "sheet"])
    assert response.status_code == 200, response.text
    body = response.json()
    cli = cli_search(registry, served, query, "--top", 3, "--target", "audio", "--target", "sheet")
    assert [r["results"] for r in body["results"]] == [r["results"] for r in cli]
    assert body["results"][0]["query"] == "b.wav"  # the upload's name, not a temporary file's
    assert body["results"][0]["results"]["audio"][0]["id"] == "songs/b.wav"
    assert body["query_item"] == "songs/b.wav"  # the query's own item, found by name and size
    assert body["query_passage"] == []  # no dataset: no passage to complete


def test_a_long_recording_is_one_query_a_window(client, served, registry):
    query = served["folder"] / "long/d.wav"  # 12 s: the store's 5-s windows every 2.5 s
    body = upload(client, query, k="2").json()
    cli = cli_search(registry, served, query, "--top", 2)
    assert len(body["results"]) == len(cli) > 1
    assert [(r["start"], r["end"]) for r in body["results"]] == [(r["start"], r["end"]) for r in cli]
    assert [r["results"] for r in body["results"]] == [r["results"] for r in cli]


def test_a_lyrics_search_gives_the_cli_results_and_lines_read_back(client, served, registry):
    body = client.post("/api/search", data={"text": "How I wonder what you are", "k": "4"}).json()
    cli = cli_search(registry, served, "--text", "How I wonder what you are", "--top", 4)
    assert [r["results"] for r in body["results"]] == [r["results"] for r in cli]
    assert set(body["results"][0]["results"]) == {"audio", "sheet"}
    line = client.get("/api/items/words/a.txt%23L2").json()
    assert line["modality"] == "lyrics" and line["line"] == 2
    assert line["text"] == "How I wonder what you are" and line["media"] is None


def test_an_item_and_its_file(client, served):
    hit = client.post("/api/search", data={"text": "Amazing grace", "k": "1", "target": "audio"}).json()
    window = hit["results"][0]["results"]["audio"][0]
    item = client.get("/api/items/" + window["id"].replace("#", "%23")).json()
    assert item["start"] == window["start"] and item["end"] == window["end"]
    media = client.get(item["media"])
    assert media.status_code == 200 and media.headers["content-type"] == "audio/wav"
    assert media.content == (served["folder"] / window["source"]).read_bytes()
    part = client.get(item["media"], headers={"Range": "bytes=0-99"})  # what a player seeking asks
    assert part.status_code == 206 and len(part.content) == 100
    image = client.get("/media/scores%2Fa.png")
    assert image.headers["content-type"] == "image/png"
    assert image.content == (served["folder"] / "scores/a.png").read_bytes()


@pytest.mark.parametrize(
    "path",
    [
        "/media/..%2F..%2F..%2Fetc%2Fpasswd",
        "/media/%2Fetc%2Fpasswd",
        "/media/../../etc/passwd",
        "/media/songs%2F..%2F..%2Felsewhere%2Fsecret.wav",
        "/media/songs/outside.wav",  # a link out of the root: the walk refused it, the store lacks it
        "/media/elsewhere%2Fsecret.wav",
        "/api/items/..%2F..%2Fetc%2Fpasswd",
        "/media/%252e%252e%252fetc%252fpasswd",
    ],
)
def test_a_path_that_is_not_a_stored_id_is_refused(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert "root:" not in response.text and "error" in response.json()


def test_resolve_source_never_leaves_a_root(tmp_path):
    from ugaar_kit.serve.files import Refused, resolve_source

    root = tmp_path / "root"
    (root / "a").mkdir(parents=True)
    (root / "a/x.wav").write_bytes(b"x")
    (tmp_path / "secret.wav").write_bytes(b"s")
    (root / "a/link.wav").symlink_to(tmp_path / "secret.wav")
    roots = [{"label": "", "path": str(root)}]
    assert resolve_source("a/x.wav", roots) == (root / "a/x.wav").resolve()
    assert resolve_source("a/x.wav#t=0-5", roots) == (root / "a/x.wav").resolve()
    for bad in ("../secret.wav", "a/../../secret.wav", "/etc/passwd", "a/link.wav", "a\\..\\..\\secret.wav", ""):
        with pytest.raises(Refused):
            resolve_source(bad, roots)
    labelled = [{"label": "songs", "path": str(root)}]
    assert resolve_source("songs/a/x.wav", labelled) == (root / "a/x.wav").resolve()
    with pytest.raises(Refused):
        resolve_source("other/a/x.wav", labelled)
    single = [{"label": "", "path": str(root / "a/x.wav")}]
    assert resolve_source("x.wav", single) == (root / "a/x.wav").resolve()
    with pytest.raises(Refused, match="no roots"):
        resolve_source("a/x.wav", [])


def test_a_stored_file_replaced_by_a_link_out_of_its_root_is_refused(tmp_path, registry):
    from starlette.testclient import TestClient

    from ugaar_kit.inference.embedding import EmbedSettings, embed_paths
    from ugaar_kit.inference.run import Run
    from ugaar_kit.serve.app import create_app
    from ugaar_kit.serve.service import Service
    from ugaar_kit.testing.runs import write_run

    run_dir = write_run(tmp_path / "run", seed=0)
    folder = tmp_path / "data"
    write_wav(folder / "a.wav", 1.0, 330, seed=1)
    write_wav(tmp_path / "secret.wav", 1.0, 880, seed=2)
    embed_paths(Run.load(run_dir, registry=registry), [folder], tmp_path / "emb.h5", EmbedSettings())
    (folder / "a.wav").unlink()
    (folder / "a.wav").symlink_to(tmp_path / "secret.wav")
    service = Service(tmp_path / "emb.h5", run_dir, registry)
    try:
        with TestClient(create_app(service)) as client:
            response = client.get("/media/a.wav")
            assert response.status_code == 404 and "link out of its root" in response.json()["error"]
            assert client.get("/api/items/a.wav").json()["media"] is None
    finally:
        service.close()


def test_uploads_over_the_limits_get_a_message(client, served, tmp_path):
    long = write_wav(tmp_path / "long.wav", 25.0, 440, seed=3)  # over the fixture's 20 s
    response = upload(client, long)
    assert (
        response.status_code == 413
        and response.json()["error"] == "long.wav: 25 s long; the server takes recordings of up to 20 s"
    )
    big = tmp_path / "big.wav"
    big.write_bytes(b"\0" * (3 * 1024 * 1024))  # over the fixture's 2 MB
    response = upload(client, big)
    assert response.status_code == 413 and "larger than the server's limit of 2 MB" in response.json()["error"]
    response = client.post("/api/search", data={"text": "la " * 5000})
    assert response.status_code == 413 and "longer than" in response.json()["error"]


@pytest.mark.parametrize(
    ("files", "data", "message"),
    [
        ({"file": ("notes.pdf", b"%PDF-1.4")}, {}, "notes.pdf: cannot use a '.pdf' file"),
        ({"file": ("bad.wav", b"RIFF\x24\x00\x00\x00WAVEfmt garbage")}, {}, "bad.wav: not a readable recording"),
        ({"file": ("empty.png", b"")}, {}, "empty.png: an empty file"),
        ({"file": ("x.png", b"not an image")}, {}, "x.png: cannot read image"),
        (None, {"text": "   "}, "give a query: a file, or lyrics text"),
        (None, {"text": "la", "k": "zero"}, "k must be a whole number"),
        (None, {"text": "la", "k": "1000"}, "k must be between 1 and 100"),
        (None, {"text": "la", "target": "video"}, "--target video: the store has no such embeddings"),
    ],
)
def test_a_bad_request_gets_one_line_and_the_server_goes_on(client, served, files, data, message):
    response = client.post("/api/search", files=files, data=data)
    assert 400 <= response.status_code < 500, response.text
    error = response.json()["error"]
    assert message in error and "\n" not in error and "Traceback" not in error
    assert client.post("/api/search", data={"text": "Amazing grace", "k": "1"}).status_code == 200


def test_a_fault_of_the_server_is_a_500_and_it_goes_on(client, service, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(service, "search", broken)
    response = client.post("/api/search", data={"text": "Amazing grace"})
    assert response.status_code == 500 and "RuntimeError" in response.json()["error"] and "boom" not in response.text
    monkeypatch.undo()
    assert client.post("/api/search", data={"text": "Amazing grace"}).status_code == 200


def test_identify_ranks_the_folders_as_pieces(client, served):
    body = client.post("/api/identify", data={"text": "Amazing grace, how sweet the sound", "k": "3"}).json()
    assert body["query_modality"] == "lyrics" and body["target"] == "audio" and body["vectors"] == 1
    assert {p["piece"] for p in body["pieces"]} <= {"songs", "deep", "long"}
    assert body["pieces"][0]["best"]["modality"] == "audio" and "location" not in body  # no dataset given
    with open(served["folder"] / "scores/b.png", "rb") as fh:  # random pixels: no staff to read
        response = client.post("/api/identify", files={"file": ("b.png", fh.read())})
    assert response.status_code == 400
    assert response.json()["error"].startswith("b.png: no staff found on the page")
    text = {"text": "Amazing grace, how sweet the sound"}
    assert client.post("/api/identify", data=text).json()["aggregate"] == "votes"  # auto, no dataset
    response = client.post("/api/identify", data={**text, "aggregate": "sequence"})  # needs the passages' order
    assert response.status_code == 400 and "--aggregate sequence needs --data" in response.json()["error"]


def test_a_store_rewritten_while_serving_is_reopened(tmp_path, registry):
    from starlette.testclient import TestClient

    from ugaar_kit.inference.embedding import EmbedSettings, embed_paths
    from ugaar_kit.inference.run import Run
    from ugaar_kit.serve.app import create_app
    from ugaar_kit.serve.service import Service
    from ugaar_kit.testing.runs import write_run

    run_dir = write_run(tmp_path / "run", seed=0)
    run = Run.load(run_dir, registry=registry)
    folder = tmp_path / "data"
    write_wav(folder / "a.wav", 1.0, 330, seed=1)
    store = tmp_path / "emb.h5"
    embed_paths(run, [folder], store, EmbedSettings())
    service = Service(store, run_dir, registry)
    try:
        with TestClient(create_app(service)) as client:
            assert client.get("/api/info").json()["rows"] == {"audio": 1}
            write_wav(folder / "b.wav", 1.0, 550, seed=2)
            embed_paths(run, [folder], store, EmbedSettings())
            assert client.get("/api/info").json()["rows"] == {"audio": 2}
            assert client.get("/api/items/b.wav").json()["media"] == "/media/b.wav"
    finally:
        service.close()


def test_a_stored_window_of_a_score_page_is_served_as_that_window(tmp_path, registry):
    """`embed` cuts a page into windows along its systems; `/media/ID` of such a row gives the
    window's pixels (what was embedded), not the whole page, and the page file is served whole."""
    import io

    from PIL import Image
    from starlette.testclient import TestClient

    from ugaar_kit.build.engrave import png_bytes, render_page
    from ugaar_kit.build.pages import engrave_song
    from ugaar_kit.build.segment import join_lines
    from ugaar_kit.data.media import load_image
    from ugaar_kit.data.staves import windows_of_page
    from ugaar_kit.inference.embedding import EmbedSettings, embed_paths
    from ugaar_kit.inference.run import Run
    from ugaar_kit.interfaces.score import Note, Passage, Syllable
    from ugaar_kit.serve.app import create_app
    from ugaar_kit.serve.service import Service
    from ugaar_kit.testing.runs import write_run

    passages = [
        Passage([Note(60 + (k % 7) + i, float(i), 1.0) for i in range(4)], [Syllable("la", i) for i in range(4)])
        for k in range(30)
    ]
    engraved = engrave_song(join_lines(passages), [4 * k for k in range(30)])
    folder = tmp_path / "scores"
    folder.mkdir()
    (folder / "page.png").write_bytes(png_bytes(render_page(engraved.pages[0].svg)))
    run_dir = write_run(tmp_path / "run", seed=0)
    store = tmp_path / "emb.h5"
    embed_paths(Run.load(run_dir, registry=registry), [folder], store, EmbedSettings())
    cut = list(windows_of_page(load_image(folder / "page.png").numpy()))
    service = Service(store, run_dir, registry)
    try:
        with TestClient(create_app(service)) as client:
            assert client.get("/api/info").json()["rows"] == {"sheet": len(cut)}
            w = cut[3]
            item_id = f"page.png#system={w.number}&x={w.staff.x0 + w.x0}-{w.staff.x0 + w.x1}"
            item = client.get("/api/items/" + item_id.replace("#", "%23").replace("&", "%26")).json()
            shown = client.get(item["media"])
            assert shown.status_code == 200 and shown.headers["content-type"] == "image/png"
            pixels = np.asarray(Image.open(io.BytesIO(shown.content)), dtype=np.float32) / 255
            assert pixels.shape == w.pixels.shape and np.abs(pixels - w.pixels).max() <= 1 / 255
            assert client.get("/media/page.png").status_code == 404  # the page itself is no stored row
    finally:
        service.close()
