"""Image and layer storage: layers on disk, image metadata, the SQLite store."""
