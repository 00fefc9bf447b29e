"""An image's layers, or a container's layers and writable layer, as a read-only FUSE file
system that the user can read from the host without a namespace.

    tree.py    the merged view of a stack of layer directories, indexed once (whiteouts,
               opaque directories and hard links worked out in memory)
    upper.py   a writable layer looked up live above that index (a container's changes)
    fs.py      the FUSE operations over both (mfusepy, libfuse 3): lookups from the index,
               reads passed straight to the layer's own file
    serve.py   the serving process: built once per mount, it answers until it is unmounted

The serving process is started by the engine inside the user's user namespace, handed a
/dev/fuse descriptor that fusermount3 has already mounted on the host: it can then read every
file of the layers, and it sees their owners as the container sees them.
"""
