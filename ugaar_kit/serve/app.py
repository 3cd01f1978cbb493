"""`ugaar-kit serve`'s web app (Starlette): one page, its JSON API, the stored files it shows.

    GET  /                   the page (ugaar_kit/serve/page/: HTML, CSS, a little JavaScript)
    GET  /api/info           the store: modalities, rows, the extensions a query file may have
    POST /api/search         multipart `file` or `text`, `target` (repeatable), `k`:
                             {"results": [the objects `search --json` prints], "query_item",
                              "skipped", "notes"}
    POST /api/identify       multipart `file` or `text`, `k`, `aggregate`: `identify --json`'s
                             object (+ "location" in the best piece with a dataset of whole songs)
    GET  /api/items/ID       one stored item: its row, `media` (a URL) or `text` (a lyrics line)
    GET  /media/ID           the file of a stored item (audio supports range requests; a window
                             of a score page, `page.png#system=N&x=X0-X1`: that window)

Every error is `{"error": "<one line>"}` with a 4xx status (a 500 for a fault of the server,
which keeps serving); nothing else of a request reaches the filesystem but an id the store
holds (`ugaar_kit.serve.files`).
"""

from __future__ import annotations

import logging
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from ugaar_kit.errors import InputError, UgaarError
from ugaar_kit.interfaces.rows import Waveform
from ugaar_kit.retrieval.identify import AGGREGATE_CHOICES
from ugaar_kit.serve.files import media_type
from ugaar_kit.serve.service import Service
from ugaar_kit.serve.uploads import Limits, UploadRejected, check_duration, display_name, save_upload, suffix_of

log = logging.getLogger("ugaar_kit.serve")

PAGE_FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript"),
    "/style.css": ("style.css", "text/css"),
}


def error(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _page(name: str, content_type: str) -> Any:
    body = resources.files("ugaar_kit.serve").joinpath("page", name).read_bytes()

    async def endpoint(request: Request) -> Response:
        return Response(body, media_type=content_type, headers={"Cache-Control": "no-cache"})

    return endpoint


def _int(value: Any, name: str, low: int, high: int, default: int) -> int:
    if value in (None, ""):
        return default
    try:
        number = int(str(value))
    except ValueError:
        raise UploadRejected(f"{name} must be a whole number, not {str(value)[:40]!r}") from None
    if not low <= number <= high:
        raise UploadRejected(f"{name} must be between {low} and {high}")
    return number


class Query:
    """A request's query: an uploaded file saved in a temporary folder, or typed lines."""

    def __init__(self, service: Service, limits: Limits) -> None:
        self.service = service
        self.limits = limits
        self.folder = tempfile.TemporaryDirectory(prefix="ugaar-serve-")
        self.path: Path | None = None
        self.name = ""
        self.size = 0
        self.modality = ""
        self.lines: list[str] = []
        self.form: Any = None

    async def read(self, request: Request) -> Query:
        length = request.headers.get("content-length")
        if length is None or not length.isdigit():
            raise UploadRejected("send the query as a form with a Content-Length", 411)
        if int(length) > self.limits.max_bytes + 64 * 1024:
            raise UploadRejected(
                f"the upload is larger than the server's limit of {self.limits.max_bytes // 1024 // 1024} MB", 413
            )
        try:
            self.form = await request.form(max_files=1, max_fields=20, max_part_size=self.limits.max_text * 4)
        except HTTPException as exc:
            raise UploadRejected(f"not a form the server can read ({exc.detail})") from None
        upload = self.form.get("file")
        text = self.form.get("text")
        if upload is not None and not isinstance(upload, str) and upload.filename:
            self.name = display_name(upload.filename)
            suffix = suffix_of(upload.filename, set(self.service.routes))
            self.path, self.size = await save_upload(upload, Path(self.folder.name), suffix, self.limits)
            self.modality = self.service.routes[suffix]
            if isinstance(self.service.run.encoders[self.modality], Waveform):  # a recording
                await run_in_threadpool(check_duration, self.path, self.name, self.limits)
        elif isinstance(text, str) and text.strip():
            if len(text) > self.limits.max_text:
                raise UploadRejected(f"the text is longer than {self.limits.max_text} characters", 413)
            self.lines = [line.strip() for line in text.splitlines() if line.strip()]
        else:
            raise UploadRejected("give a query: a file, or lyrics text")
        return self

    def named(self, text: str) -> str:
        """`text` with the temporary file's path replaced by the upload's name."""
        return text.replace(str(self.path), self.name) if self.path is not None else text

    def close(self) -> None:
        if self.form is not None:
            for value in self.form.values():
                if hasattr(value, "file"):
                    value.file.close()
        self.folder.cleanup()


def create_app(service: Service, limits: Limits = Limits()) -> Starlette:
    """The app over `service`; `limits` cap every request."""

    async def info(request: Request) -> Response:
        payload = await run_in_threadpool(service.info)
        return JSONResponse({**payload, "limits": limits.as_dict()})

    async def answered(request: Request, work: Any) -> Response:
        """Read the request's query, answer it with `await work(query)`; an expected failure is
        one line naming the upload (not its temporary file)."""
        query = Query(service, limits)
        try:
            await query.read(request)
            return await work(query)
        except UgaarError as exc:
            return error(query.named(str(exc)).splitlines()[0], getattr(exc, "status", 400))
        finally:
            query.close()

    async def search(request: Request) -> Response:
        async def work(query: Query) -> Response:
            k = _int(query.form.get("k"), "k", 1, limits.max_k, 10)
            targets = [t for t in query.form.getlist("target") if isinstance(t, str) and t]
            return JSONResponse(await run_in_threadpool(_search, service, query, targets, k))

        return await answered(request, work)

    async def identify(request: Request) -> Response:
        async def work(query: Query) -> Response:
            k = _int(query.form.get("k"), "k", 1, limits.max_k, 10)
            aggregate = str(query.form.get("aggregate") or "auto")
            if aggregate not in AGGREGATE_CHOICES:
                raise UploadRejected(f"aggregate must be one of {', '.join(AGGREGATE_CHOICES)}")
            paths = [query.path] if query.path is not None else []
            payload, skipped = await run_in_threadpool(service.identify, paths, query.lines, k, aggregate)
            if payload is None:
                problems = "; ".join(f"{label}: {problem}" for label, problem in skipped)
                return error(query.named(problems or "nothing in the query could be embedded"))
            payload["query"] = query.named(payload["query"])
            return JSONResponse({**payload, "skipped": [[query.named(label), p] for label, p in skipped]})

        return await answered(request, work)

    async def item(request: Request) -> Response:
        found = await run_in_threadpool(service.item, request.path_params["item_id"])
        if found is None:
            return error("no such item in the store", 404)
        return JSONResponse(found)

    async def media(request: Request) -> Response:
        try:
            path = await run_in_threadpool(service.media_path, request.path_params["item_id"])
        except InputError as exc:
            return error(exc.problem, 404)
        headers = {"Cache-Control": "private, max-age=3600"}
        window = await run_in_threadpool(service.page_window_png, request.path_params["item_id"], path)
        if window is not None:  # a window along a page's system: that window, not the whole page
            return Response(window, media_type="image/png", headers=headers)
        return FileResponse(path, media_type=media_type(path), headers=headers)

    async def expected(request: Request, exc: Exception) -> Response:
        return error(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, getattr(exc, "status", 400))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return error(str(exc.detail), exc.status_code)

    async def fault(request: Request, exc: Exception) -> Response:
        log.exception("error answering %s %s", request.method, request.url.path)
        return error(f"the server failed to answer ({type(exc).__name__}); it goes on serving", 500)

    routes = [Route(path, _page(name, kind)) for path, (name, kind) in PAGE_FILES.items()]
    routes += [
        Route("/api/info", info),
        Route("/api/search", search, methods=["POST"]),
        Route("/api/identify", identify, methods=["POST"]),
        Route("/api/items/{item_id:path}", item),
        Route("/media/{item_id:path}", media),
    ]
    handlers: dict[Any, Any] = {
        UgaarError: expected,
        HTTPException: http_error,
        Exception: fault,
    }
    return Starlette(routes=routes, exception_handlers=handlers)


def _search(service: Service, query: Query, targets: list[str], k: int) -> dict[str, Any]:
    from ugaar_kit.inference.embedding.query import Query as EmbedQuery
    from ugaar_kit.inference.embedding.query import text_modality

    if query.path is not None:
        queries = [EmbedQuery(query.name, query.modality, path=query.path)]
    else:
        modality = text_modality(service.run, None)
        queries = [EmbedQuery(line, modality, text=line) for line in query.lines]
    answer = service.search(queries, targets, k)
    for result in answer.results:  # the upload's name, not the temporary file's
        result["query"] = query.named(result["query"])
    own = service.own_item(query.name, query.size, query.modality) if query.path is not None else None
    return {
        "results": answer.results,
        "query_item": own,
        "query_passage": service.partners(own),
        "skipped": [[query.named(label), problem] for label, problem in answer.skipped],
        "notes": answer.notes,
    }
