"""docs/plugins.md's package, taken from the page (not copied here), really pip-installs offline
into a throwaway environment and passes `check_encoder` there, found through its entry point."""

from __future__ import annotations

import re
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "docs" / "plugins.md"
BLOCK = re.compile(r"```(?:toml|python)\n# (?P<path>[\w./-]+\.(?:toml|py))\n(?P<body>.*?)```", re.DOTALL)


def page_files() -> dict[str, str]:
    """Every code block of the page whose first line is `# <path>`: path -> text."""
    return {m["path"]: f"# {m['path']}\n{m['body']}" for m in BLOCK.finditer(PAGE.read_text(encoding="utf-8"))}


def test_the_page_holds_a_whole_package() -> None:
    assert set(page_files()) == {
        "pyproject.toml",
        "ugaar_kit_chroma/__init__.py",
        "ugaar_kit_chroma/plugin.py",
        "ugaar_kit_chroma/options.py",
        "ugaar_kit_chroma/encoder.py",
    }


def test_the_plugin_of_the_page_installs_and_conforms(tmp_path: Path) -> None:
    package = tmp_path / "ugaar-kit-chroma"
    for rel, text in page_files().items():
        (package / rel).parent.mkdir(parents=True, exist_ok=True)
        (package / rel).write_text(text, encoding="utf-8")
    env_dir = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    python = env_dir / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # the project's environment (torch, ugaar-kit and its editable finder) beneath the new one
    ours = sysconfig.get_paths()["purelib"]
    Path(site, "_ugaar_kit_env.pth").write_text(f"import site; site.addsitedir({ours!r})\n", encoding="utf-8")
    install = [python, "-m", "pip", "install", "--no-build-isolation", "--no-index", "--no-deps", "--quiet"]
    done = subprocess.run([*install, str(package)], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    check = textwrap.dedent(
        """
        import math, torch
        from ugaar_kit.registry.discovery import load_registry
        from ugaar_kit.testing import check_encoder

        registry, _ = load_registry(strict=True)
        component = registry.get("encoder", "chroma", "audio")
        assert component.distribution == "ugaar-kit-chroma" and component.version == "0.1.0", component
        t = torch.arange(22050) / 22050
        raws = [torch.sin(2 * math.pi * 440 * t[: n]) for n in (22050, 15000, 9000)]
        enc = check_encoder(lambda: component.cls(), raws)
        assert enc.output_dim == 64
        check_encoder(lambda: component.cls.from_options({"pooling": "max", "dim": "8"}), raws)
        print("ok")
        """
    )
    result = subprocess.run([python, "-c", check], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stdout + result.stderr
