"""Storage drivers: kernel overlay, fuse-overlayfs and a copying driver."""
