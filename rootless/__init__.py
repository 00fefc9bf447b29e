"""The rootless runtime: namespaces, mounts and process plumbing for one container.

It keeps no state and knows no container names: it is handed an OCI-runtime-spec
shaped dict and a root filesystem, and runs it.
"""

import os as _os

# podman's default seccomp profile, shipped beside this package: seccomp.py reads it, and the
# engine names its kept filters after this file without importing seccomp.py
SECCOMP_PROFILE = _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), "seccomp_default.json")
