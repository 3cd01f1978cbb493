"""A live `ugaar-kit serve` app for tests and benchmarks: uvicorn in a thread on a free port of
127.0.0.1, and headless Chromium (Debian's `chromium` and `chromedriver`, driven by selenium;
nothing is downloaded) to look at it.

    with live_server(app) as url:          # "http://127.0.0.1:PORT"
        with chromium() as browser:        # None when Chromium or selenium is absent
            browser.get(url)
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
CHROMEDRIVER = ("chromedriver",)
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
)
"""Flags of a headless Chromium on a machine with no network but loopback: without the
background-networking ones it keeps trying to reach Google's hosts."""


@contextmanager
def live_server(app: Any, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve `app` with uvicorn in a daemon thread on a free port of `host`; yields its URL and
    stops the server on exit."""
    import uvicorn

    from ugaar_kit.cli.serve_cmd import _listen

    sock = _listen(host, 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def chromium_missing() -> str | None:
    """Why a browser test cannot run here (None when it can)."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install selenium)"
    if not any(shutil.which(name) for name in CHROMIUM):
        return "no Chromium (Debian: apt-get install chromium chromium-driver)"
    if not any(shutil.which(name) for name in CHROMEDRIVER):
        return "no chromedriver (Debian: apt-get install chromium-driver)"
    return None


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium driven by selenium with the machine's own chromedriver, in a fresh
    profile; raises RuntimeError when `chromium_missing()` says why not."""
    problem = chromium_missing()
    if problem:
        raise RuntimeError(problem)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    binary = next(shutil.which(n) for n in CHROMIUM if shutil.which(n))
    options.binary_location = str(binary)
    with tempfile.TemporaryDirectory(prefix="ugaar-chromium-") as profile:
        for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
            options.add_argument(flag)
        driver_path = next(shutil.which(n) for n in CHROMEDRIVER if shutil.which(n))
        driver = webdriver.Chrome(service=Service(executable_path=str(driver_path)), options=options)
        try:
            yield driver
        finally:
            driver.quit()
