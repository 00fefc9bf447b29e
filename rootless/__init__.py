"""The rootless runtime: namespaces, mounts and process plumbing for one container.

It keeps no state and knows no container names: it is handed an OCI-runtime-spec
shaped dict and a root filesystem, and runs it.
"""
