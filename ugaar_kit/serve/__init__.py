"""`ugaar-kit serve`: a local web page over an embedding store (search by a file or lyrics,
results as score images, playable audio windows and lyrics lines; piece identification).

Modules: `app` (the Starlette app and its JSON API), `service` (the store and run behind it),
`files` (which stored files may be served), `uploads` (limits on what a request brings), and
`page/` (the page: HTML, CSS and JavaScript, no build step).
"""
