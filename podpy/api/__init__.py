"""The Docker-compatible HTTP API (`podpy system service`): routes that call the engine's verbs.

http.py speaks HTTP/1.1 on one connection (h11), routes.py matches paths (with or without
a /v1.NN prefix) to handlers, service.py listens and serves each connection in a thread;
each area's handlers live in a module of their own (system.py, containers.py, ...), listed
in AREAS, and register themselves in a RouteTable of that module.
"""

AREAS = ("system", "containers", "lifecycle", "streams", "archive", "exec",
         "images", "registries", "build", "networks", "volumes")
