"""`ugaar-kit serve` over a real socket: twenty concurrent searches, and the page in headless
Chromium (skipped, with the reason, where Chromium, chromedriver or selenium is absent)."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import httpx
import pytest
from typer.testing import CliRunner

from ugaar_kit.testing.server import chromium, chromium_missing, live_server
from ugaar_kit.testing.store_cli import store_app

SCREENSHOT_ENV = "UGAAR_SERVE_SCREENSHOT"
"""Where the browser test saves its screenshot of the page, when set."""


def cli_results(registry, served, *args):
    result = CliRunner().invoke(
        store_app(registry),
        [
            "search",
            *map(str, args),
            "--index",
            str(served["store"]),
            "--run",
            str(served["run"]),
            "--json",
            "--top",
            "5",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return [json.loads(line)["results"] for line in result.output.splitlines() if line.startswith("{")]


def test_twenty_concurrent_searches_all_answer_as_the_cli(app, served, registry):
    wav, png = served["folder"] / "songs/b.wav", served["folder"] / "scores/a.png"
    lyrics = "Twinkle, twinkle, little star"
    expected = {
        "wav": cli_results(registry, served, wav),
        "png": cli_results(registry, served, png),
        "text": cli_results(registry, served, "--text", lyrics),
    }

    def ask(url: str, kind: str) -> tuple[str, int, list]:
        if kind == "text":
            response = httpx.post(f"{url}/api/search", data={"text": lyrics, "k": "5"}, timeout=60)
        else:
            path = wav if kind == "wav" else png
            response = httpx.post(
                f"{url}/api/search", files={"file": (path.name, path.read_bytes())}, data={"k": "5"}, timeout=60
            )
        return kind, response.status_code, [r["results"] for r in response.json().get("results", [])]

    kinds = ["wav", "png", "text", "wav", "text"] * 4
    with live_server(app) as url, ThreadPoolExecutor(max_workers=len(kinds)) as pool:
        answers = list(pool.map(lambda kind: ask(url, kind), kinds))
    assert len(answers) == 20
    for kind, status, results in answers:
        assert status == 200
        assert results == expected[kind]


def test_the_server_listens_on_loopback_only_by_default():
    from ugaar_kit.cli.serve_cmd import _listen

    sock = _listen("127.0.0.1", 0)
    try:
        assert sock.getsockname()[0] == "127.0.0.1" and sock.getsockname()[1] > 0
    finally:
        sock.close()


@pytest.mark.skipif(chromium_missing() is not None, reason=f"browser test: {chromium_missing()}")
def test_the_page_in_chromium_shows_scores_and_plays_windows(app, served):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with live_server(app) as url, chromium() as browser:
        wait = WebDriverWait(browser, 30)
        browser.get(url + "/")
        wait.until(
            lambda b: (
                "rows" not in b.find_element(By.ID, "store").text and "emb.h5" in b.find_element(By.ID, "store").text
            )
        )
        # A recording: the sheet snippets it finds are shown as images that load.
        browser.find_element(By.ID, "file").send_keys(str(served["folder"] / "songs/b.wav"))
        browser.find_element(By.ID, "search").click()
        wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "section[data-modality=sheet] img"))
        images = browser.find_elements(By.CSS_SELECTOR, "section[data-modality=sheet] img")
        wait.until(
            lambda b: all(
                b.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", i) for i in images
            )
        )
        assert len(images) == 2  # the store's two score images, best first
        assert "answered in" in browser.find_element(By.ID, "status").text
        assert not browser.find_element(By.ID, "error").is_displayed()
        # A lyrics line: the audio windows it finds play from their start.
        browser.find_element(By.ID, "file").clear()
        box = browser.find_element(By.ID, "text")
        box.send_keys("How I wonder what you are")
        browser.find_element(By.ID, "search").click()
        wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "section[data-modality=audio] audio"))
        first = browser.find_element(By.CSS_SELECTOR, "section[data-modality=audio] li")
        hit_id = first.get_attribute("data-id")
        api = httpx.post(
            url + "/api/search", data={"text": "How I wonder what you are", "k": "5", "target": "audio"}
        ).json()
        top = api["results"][0]["results"]["audio"][0]
        assert hit_id == top["id"]
        src = first.find_element(By.TAG_NAME, "audio").get_attribute("src")
        assert src == f"{url}/media/{quote(top['id'], safe='')}#t={_js(top['start'])},{_js(top['end'])}"
        duration = browser.execute_script(
            "const a = arguments[0]; return new Promise(r => { if (a.readyState >= 1) r(a.duration); else a.onloadedmetadata = () => r(a.duration); a.load(); });",
            first.find_element(By.TAG_NAME, "audio"),
        )
        assert duration > 0  # the browser read the stored recording
        # A bad upload: an error in the page, and the page goes on.
        bad = served["outside"].parent / "notes.pdf"
        bad.write_bytes(b"%PDF-1.4")
        box.clear()
        browser.find_element(By.ID, "file").send_keys(str(bad))
        browser.find_element(By.ID, "search").click()
        wait.until(lambda b: b.find_element(By.ID, "error").is_displayed())
        assert "notes.pdf: cannot use a '.pdf' file" in browser.find_element(By.ID, "error").text
        if os.environ.get(SCREENSHOT_ENV):
            browser.save_screenshot(os.environ[SCREENSHOT_ENV])


def _js(x: float) -> str:
    """A number as JavaScript's String() writes it (5 not 5.0)."""
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _start(served, *more):
    """`ugaar-kit serve STORE --run RUN --port 0 ...` as a program; (process, its URL)."""
    import subprocess
    import sys
    import time

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ugaar_kit.testing.store_cli",
            "serve",
            str(served["store"]),
            "--run",
            str(served["run"]),
        ]
        + ["--port", "0", *more],
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("serving http://"):
            return proc, line.split()[1].rstrip("/"), lines
    proc.kill()
    raise AssertionError("serve did not start: " + "".join(lines))


def test_the_serve_command_listens_where_it_says_and_stops(served):
    import signal

    proc, url, lines = _start(served)
    try:
        assert url.startswith("http://127.0.0.1:") and not any("warning" in line for line in lines)
        assert httpx.get(url + "/api/info", timeout=30).json()["rows"]["sheet"] == 2
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        code = proc.wait(30)
        rest = proc.stderr.read()
        assert code == 0 and "Traceback" not in rest, rest


def test_another_host_is_said_aloud(served):
    proc, url, lines = _start(served, "--host", "127.0.0.2")
    try:
        assert url.startswith("http://127.0.0.2:")
        assert any("warning: listening on 127.0.0.2: anyone who can reach this machine" in line for line in lines)
    finally:
        proc.kill()
        proc.wait(30)
