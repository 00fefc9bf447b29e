"""The Docker-compatible HTTP API (`podpy system service`): routes that call the engine's verbs.

http.py speaks HTTP/1.1 on one connection (h11), routes.py matches paths (with or without
a /v1.NN prefix) to handlers, service.py listens and serves each connection in a thread;
each area's handlers live in a module of their own (system.py, containers.py, ...), listed
in AREAS, and register themselves in a RouteTable of that module.

Adding an area (images, networks, volumes, ...): a module with `routes = RouteTable()`, its
name in AREAS, and handlers `def handler(req: Request)` declared with `@routes.get(...)`,
`.post`, `.put`, `.head` or `.delete` (path parameters as `{name}`, in req.params). A
handler takes the request's engine Runtime from `req.runtime()` (one per request: SQLite
connections stay in their thread; closed when the request is answered, so a thread of the
handler's own opens its own with `req.conn.app.open_runtime()` and closes it with
http.close_runtime), reads `req.arg()`, `req.flag()`, `req.filters()` and
`req.json()`, and returns a dict or list (200 JSON), None (204), or an http.Response,
Streamed (chunks as they come) or Hijack (the connection handed over). It raises the
engine's errors or errors.ApiError: both become Docker's `{"message": ...}` with its status.
translate.py turns Docker's request shapes into engine options, shapes.py engine records
into Docker's response shapes.

The libpod_* areas serve podman's own API (/v4.x.y/libpod/...), which podman's remote client
and `podpy --remote` speak: podman's request and response shapes over the same engine verbs
(libpod_specgen.py reads podman's SpecGenerator into CreateOptions).
"""

AREAS = ("system", "containers", "lifecycle", "streams", "archive", "exec",
         "images", "registries", "build", "networks", "volumes",
         "libpod_system", "libpod_containers", "libpod_images", "libpod_resources",
         "libpod_pods", "libpod_kube", "libpod_prune", "libpod_archive", "libpod_build",
         "libpod_manifests", "libpod_changes", "libpod_secrets")
