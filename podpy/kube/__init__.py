"""Kubernetes YAML <-> podpy: `kube play` (documents -> pods, containers, volumes), `kube
generate` (pods, containers, volumes -> documents) and `kube down`.

The mapping is pure and lives in its own modules, so unit tests check it both ways without a
store: `schema.py` reads and checks the documents (one line with the document's number and
the field's path for a bad one, one warning per field podpy ignores), `play.py` turns them
into pods and `containers.py` into their containers' options (the plan, `plan.py`),
`generate.py` turns containers and pods into documents.
`apply.py` alone calls the engines (PodEngine, ContainerEngine, VolumeEngine). PyYAML's
safe loader is imported here only, never on another command's path.
"""
