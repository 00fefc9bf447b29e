"""The engine: the verbs behind the CLI, over storage/ and rootless/."""
