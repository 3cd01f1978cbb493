"""`ugaar-kit serve`: a local web page over a store (`ugaar_kit.serve`). (No `from __future__
import annotations`: Typer reads the parameter types.)
"""

import socket
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from ugaar_kit.cli import params
from ugaar_kit.cli.base import err_console
from ugaar_kit.registry.components import Registry

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def add(app: typer.Typer, get_registry: Callable[[], Registry]) -> None:
    """Add the `serve` command to the root app."""

    @app.command("serve")
    def serve(
        store: Annotated[
            Path, typer.Argument(help="An embedding store made by 'ugaar-kit embed'.", show_default=False)
        ],
        run: params.StoreRun,
        host: Annotated[
            str,
            typer.Option("--host", help="Address to listen on; anything but 127.0.0.1 opens the store to the network."),
        ] = "127.0.0.1",
        port: Annotated[
            int, typer.Option("--port", help="Port to listen on (0: a free one).", min=0, max=65535)
        ] = 8000,
        data: Annotated[
            Path | None,
            typer.Option(
                "--data",
                help="The dataset folder the store's files come from: its songs are the pieces 'Identify' ranks, "
                "and with whole songs (songs.jsonl) it locates the query in the best piece's score.",
                show_default=False,
            ),
        ] = None,
        root: Annotated[
            list[Path] | None,
            params.repeatable(
                "--root",
                "A folder the store's sources are relative to (repeatable) [default: the folders embed recorded].",
            ),
        ] = None,
        max_upload_mb: Annotated[
            float, params.number("--max-upload-mb", "Largest query file a request may upload, in MB.", 0.01, 10_000)
        ] = 50.0,
        max_seconds: Annotated[
            float, params.number("--max-seconds", "Longest recording a request may upload, in seconds.", 1, 86_400)
        ] = 600.0,
        device: params.Device = None,
    ) -> None:
        """Serve a web page over a store: query by uploading a recording or a score image, or by
        typing lyrics; see the nearest score snippets as images, hear the nearest audio windows
        from their start, read the nearest lyrics lines; identify the piece.

        The page is at http://HOST:PORT/ and its JSON API under /api (docs/serve.md): POST
        /api/search answers with the objects 'search --json' prints. Only the files the store
        references are served, found under the folders 'embed' recorded (or --root), never
        outside them. Stop with Ctrl-C."""
        import uvicorn

        from ugaar_kit.serve.app import create_app
        from ugaar_kit.serve.service import Service
        from ugaar_kit.serve.uploads import Limits

        service = Service(store, run, get_registry(), device=device, data=data, roots=root or [])
        try:
            limits = Limits(max_bytes=int(max_upload_mb * 1024 * 1024), max_seconds=max_seconds)
            if host not in LOCAL_HOSTS:
                err_console.print(
                    f"warning: listening on {host}: anyone who can reach this machine can query the store and "
                    "read the files it references (the default, 127.0.0.1, is this machine only)",
                    markup=False,
                )
            if not service.roots:
                err_console.print(
                    f"note: {store} records no folders (embedded before 0.3): pass --root DIR to show its files",
                    markup=False,
                )
            sock = _listen(host, port)
            shown = f"[{host}]" if ":" in host else host
            err_console.print(f"serving http://{shown}:{sock.getsockname()[1]}/ (Ctrl-C stops)", markup=False)
            config = uvicorn.Config(create_app(service, limits), log_level="warning")
            try:
                uvicorn.Server(config).run(sockets=[sock])
            except KeyboardInterrupt:  # uvicorn hands Ctrl-C back once it has shut down: the way to stop
                pass
            err_console.print("stopped", markup=False)
        finally:
            service.close()


def _listen(host: str, port: int) -> socket.socket:
    """A socket listening on host:port (0: a free port), so the address printed is the real one."""
    from ugaar_kit.errors import OptionError

    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        raise OptionError(f"--host {host} --port {port}: cannot listen there ({exc.strerror or exc})") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock
