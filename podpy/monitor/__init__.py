"""The per-user container monitor (what conmon is to podman): `service` is the process,
`launcher` its short-lived fork that starts a container, `logfile` the log writer,
`channel` the socket's message format and `client` how a podpy command reaches it."""
