"""Errors raised by storage/.

    StorageError
    ├── LayerError            a layer could not be applied (bad tar, unsafe entry)
    │   └── UnsafeEntryError  an entry would escape the layer or is malformed
    ├── ImageUnknownError     no image by that name or id
    ├── ImageInUseError       an image still used by a container
    ├── AmbiguousIdError      an id prefix matches several images
    ├── ReferenceError_       a malformed image name
    ├── DriverError           a storage driver cannot be used
    ├── NoSpaceError          the file system ran out of space while writing something
    ├── DecryptionError       an encrypted layer without its key, a bad key file, a failed check
    └── DatabaseDamaged       the database cannot be read: `podpy system check --repair`
"""

from __future__ import annotations


class StorageError(Exception):
    """Base of every error storage/ raises on purpose."""


class LayerError(StorageError):
    """A layer tar stream could not be applied."""


class UnsafeEntryError(LayerError):
    """A tar entry would write outside the layer, or its name is malformed."""


class ImageUnknownError(StorageError):
    """No image matches the given name or id."""


class ImageInUseError(StorageError):
    """The image is used by a container and cannot be removed without force."""


class AmbiguousIdError(StorageError):
    """An id prefix matches more than one object."""


class ReferenceError_(StorageError):
    """An image reference (name) is malformed."""


class DriverError(StorageError):
    """A storage driver cannot be used here."""


class DecryptionError(StorageError):
    """An encrypted layer could not be decrypted: no key or no fitting key, a key file that
    cannot be used, or a blob whose HMAC or plain digest does not match."""


class NoSpaceError(StorageError):
    """The file system ran out of space (ENOSPC) while writing something; the message names it."""


def no_space(exc: BaseException, what: str) -> "NoSpaceError | None":
    """A NoSpaceError "<what>: no space left on device" when exc is ENOSPC (or EDQUOT, a quota
    spent) from writing a file, else None. A system call's own error type (rootless's
    SyscallError: unshare says ENOSPC when the user namespaces are used up) is not one."""
    import errno

    if (isinstance(exc, OSError) and type(exc).__module__ == "builtins"
            and exc.errno in (errno.ENOSPC, errno.EDQUOT)):
        return NoSpaceError(f"{what}: no space left on device")
    return None


class DatabaseDamaged(StorageError):
    """The database is damaged (SQLite cannot read it) or was lost while the store's files
    still describe images: one line that names the way out."""

    def __init__(self, path: str, why: str) -> None:
        super().__init__(f"the database {path} is damaged ({why}): run `podpy system check --repair` "
                         "to rebuild it from the store's files")
        self.path = path
        self.why = why
