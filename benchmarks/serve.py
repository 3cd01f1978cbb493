"""How fast `ugaar-kit serve` answers on the demo's store (issue 22): the API and the page.

    .venv/bin/python benchmarks/serve.py                        # the store of `ugaar-kit demo`
    .venv/bin/python benchmarks/serve.py --demo ugaar-demo --screenshot docs/images/serve.png

Loads the demo's store and run as `ugaar-kit serve STORE --run RUN --data DATA` does (the
command the demo prints), timing the load, then serves it on a free port of 127.0.0.1 and
times, after the model has loaded:
- `POST /api/search` from a separate client, `--repeats` times each: a recording of one passage
  of the test split, its score image, a line of its lyrics, and `POST /api/identify` with a
  whole song's recording;
- in headless Chromium (Debian's `chromium`, selenium), the page: from the click on Search with
  the recording chosen until every result is drawn and every score image has loaded.
Writes `benchmarks/results/serve/result.json` (`report.py` makes the table of docs/benchmarks.md)
and, with --screenshot, a picture of the page after a search.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from records import PYTHON, RESULTS, machine, now, write_json

OUT = RESULTS / "serve"


def _median_ms(times: list[float]) -> dict[str, float]:
    return {"median_ms": 1000 * statistics.median(times), "max_ms": 1000 * max(times), "n": len(times)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--demo", type=Path, default=Path("ugaar-demo"), help="the folder `ugaar-kit demo` wrote")
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--screenshot", type=Path, default=None, help="save a PNG of the page here")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)

    import httpx

    from ugaar_kit.registry.discovery import get_registry
    from ugaar_kit.serve.app import create_app
    from ugaar_kit.serve.service import Service
    from ugaar_kit.testing.server import chromium, chromium_missing, live_server

    demo = args.demo
    store, run, data = demo / "test.h5", demo / "runs" / "ugaar", demo / "data"
    if not store.is_file():
        raise SystemExit(f"{store}: no demo store; run `ugaar-kit demo --out {demo}` first")
    t0 = time.perf_counter()
    service = Service(store, run, get_registry(), data=data)
    load_s = time.perf_counter() - t0
    split = demo / "test-split"
    wav = sorted(p for p in (split / "audio").rglob("*") if p.is_file())[0]
    png = sorted(split.rglob("*.png"))[0]
    line = next(x for x in (split / "lyrics.txt").read_text(encoding="utf-8").splitlines() if x.strip())
    songs = [json.loads(x) for x in (data / "songs.jsonl").read_text(encoding="utf-8").splitlines()]
    song = next(s for s in songs if s["split"] == "test")
    recording = data / song["audio"]
    rows: dict[str, Any] = {}
    page: dict[str, Any] | None = None
    try:
        with live_server(create_app(service)) as url, httpx.Client(base_url=url, timeout=120) as client:

            def timed(label: str, path: str, **request: Any) -> None:
                times = []
                for _ in range(args.repeats + 1):  # the first warms caches, not counted
                    t = time.perf_counter()
                    response = client.post(path, **request)
                    times.append(time.perf_counter() - t)
                    if response.status_code != 200:
                        raise SystemExit(f"{label}: {response.status_code} {response.text[:300]}")
                rows[label] = _median_ms(times[1:])

            anchor = "anchor: the same recording's search in-process, no HTTP (the function the API calls)"
            rows[anchor] = _in_process(service, wav, args.repeats)
            timed(
                f"search: a recording of one passage ({wav.name})",
                "/api/search",
                files={"file": (wav.name, wav.read_bytes())},
                data={"k": "5"},
            )
            timed(
                f"search: a score image ({png.name})",
                "/api/search",
                files={"file": (png.name, png.read_bytes())},
                data={"k": "5"},
            )
            timed("search: a lyrics line", "/api/search", data={"text": line, "k": "5"})
            seconds = song["duration"]
            timed(
                f"identify and locate: a whole song's recording ({seconds:.0f} s)",
                "/api/identify",
                files={"file": (recording.name, recording.read_bytes())},
            )
            missing = chromium_missing()
            if missing is None:
                page = _page(url, wav, args.repeats, args.screenshot, chromium)
            else:
                page = {"skipped": missing}
    finally:
        service.close()
    result = {
        "command": f"{PYTHON} benchmarks/serve.py" + (f" --demo {demo}" if demo != Path("ugaar-demo") else ""),
        "machine": machine(),
        "finished": now(),
        "store": {m: int(n) for m, n in _rows(store).items()},
        "load_seconds": load_s,
        "api": rows,
        "page": page,
    }
    write_json(result, args.out / "result.json")
    print(json.dumps(result, indent=2))
    return 0


def _in_process(service: Any, wav: Path, repeats: int) -> dict[str, float]:
    """The anchor: `Service.search`, which `POST /api/search` wraps, called directly."""
    from ugaar_kit.inference.embedding.query import Query

    query = [Query(wav.name, service.routes[wav.suffix.lower()], path=wav)]
    times = []
    for _ in range(repeats + 1):  # the first warms caches, not counted
        t = time.perf_counter()
        service.search(query, [], 5)
        times.append(time.perf_counter() - t)
    return _median_ms(times[1:])


def _rows(store: Path) -> dict[str, int]:
    from ugaar_kit.store.reader import Store

    with Store(store) as s:
        return {m: s.rows(m) for m in s.modalities}


def _page(url: str, wav: Path, repeats: int, screenshot: Path | None, chromium: Any) -> dict[str, Any]:
    """Click → every result drawn and every image loaded, in headless Chromium."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    drawn = (
        "const imgs = [...document.querySelectorAll('#results img')];"
        "return document.querySelectorAll('#results li').length > 0 && imgs.length > 0 &&"
        " imgs.every(i => i.complete && i.naturalWidth > 0);"
    )
    times = []
    with chromium() as browser:
        browser.set_window_size(1280, 1000)
        wait = WebDriverWait(browser, 60, poll_frequency=0.005)
        for i in range(repeats + 1):
            browser.get(url + "/")
            wait.until(
                lambda b: (
                    "rows" in b.find_element(By.ID, "store").text or "audio" in b.find_element(By.ID, "store").text
                )
            )
            browser.find_element(By.ID, "file").send_keys(str(wav.resolve()))
            t = time.perf_counter()
            browser.find_element(By.ID, "search").click()
            wait.until(lambda b: b.execute_script(drawn))
            if i:
                times.append(time.perf_counter() - t)
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            browser.save_screenshot(str(screenshot))
    return {
        "query": f"a recording of one passage ({wav.name}), k 5, results drawn and images loaded",
        **_median_ms(times),
    }


if __name__ == "__main__":
    sys.exit(main())
