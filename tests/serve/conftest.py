"""Fixtures for `ugaar-kit serve`: a store of the test folder (tones, images, lyrics) made by a
tiny run, the service over it, the app and a test client."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from ugaar_kit.inference.embedding import EmbedSettings, embed_paths
from ugaar_kit.inference.run import Run
from ugaar_kit.serve.app import create_app
from ugaar_kit.serve.service import Service
from ugaar_kit.serve.uploads import Limits
from ugaar_kit.testing.data import write_embed_folder
from ugaar_kit.testing.parts import registry as parts_registry
from ugaar_kit.testing.runs import write_run

LIMITS = Limits(max_bytes=2 * 1024 * 1024, max_seconds=20.0)


@pytest.fixture(scope="session")
def registry():
    return parts_registry("store")


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory, registry) -> dict[str, Path]:
    """A run, the folder it embedded (and one outside it) and the store."""
    base = tmp_path_factory.mktemp("serve")
    run_dir = write_run(base / "run", seed=0)
    folder = write_embed_folder(base / "data", base / "elsewhere")
    store = base / "emb.h5"
    embed_paths(Run.load(run_dir, registry=registry), [folder], store, EmbedSettings(batch_size=4))
    return {"run": run_dir, "folder": folder, "outside": base / "elsewhere", "store": store}


@pytest.fixture(scope="session")
def service(served, registry):
    s = Service(served["store"], served["run"], registry)
    yield s
    s.close()


@pytest.fixture(scope="session")
def app(service):
    return create_app(service, LIMITS)


@pytest.fixture
def client(app):
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c
