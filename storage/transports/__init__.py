"""Image transports: fetching manifests and blobs from where images live (registries)."""
