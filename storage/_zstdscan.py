"""Follow zstd frame boundaries in compressed bytes, to tell a complete stream from a cut one."""

from __future__ import annotations

from storage.errors import LayerError

# RFC 8878 section 3.1.1: data frames start with this magic, skippable frames
# with 0x184D2A50..0x184D2A5F (both little endian).
_FRAME_MAGIC = 0xFD2FB528
_SKIPPABLE_MASK = 0xFFFFFFF0
_SKIPPABLE_MAGIC = 0x184D2A50

# What the scanner expects next.
_MAGIC = "magic"
_DESCRIPTOR = "frame header descriptor"
_HEADER_REST = "frame header"
_BLOCK_HEADER = "block header"
_BLOCK = "block"
_CHECKSUM = "checksum"
_SKIP_SIZE = "skippable frame size"
_SKIP_DATA = "skippable frame"


class ZstdFrameScanner:
    """Tracks where in the frame structure a zstd stream is, without decompressing.

    zstandard's stream reader returns end-of-data when its input ends in the
    middle of a frame; this scanner sees the same bytes and can say whether the
    stream ended on a frame boundary.  It reads only headers (a few bytes per
    block), so it costs next to nothing next to decompression.
    """

    def __init__(self) -> None:
        self._state = _MAGIC
        self._need = 4  # bytes of the current field still to collect
        self._skip = 0  # bytes of payload still to pass over
        self._field = bytearray()
        self._checksum = 0
        self._last_block = False
        self.frames = 0

    def feed(self, data: bytes) -> None:
        """Account for the next compressed bytes."""
        i, n = 0, len(data)
        while i < n:
            if self._skip:
                take = min(self._skip, n - i)
                self._skip -= take
                i += take
                if not self._skip:
                    self._after_payload()
                continue
            take = min(self._need - len(self._field), n - i)
            self._field += data[i : i + take]
            i += take
            if len(self._field) == self._need:
                field = bytes(self._field)
                self._field.clear()
                self._on_field(field)

    def finish(self) -> None:
        """Raise LayerError unless the bytes seen so far end exactly after a frame."""
        if self._state != _MAGIC or self._field or self._skip:
            raise LayerError(f"zstd layer stream is truncated (inside a {self._state})")

    def _expect(self, state: str, size: int) -> None:
        self._state = state
        if size:
            self._need = size
        else:
            # Zero-sized fields are complete as soon as they are due.
            self._on_field(b"")

    def _payload(self, state: str, size: int) -> None:
        self._state = state
        self._skip = size
        if not size:
            self._after_payload()

    def _on_field(self, field: bytes) -> None:
        state = self._state
        if state == _MAGIC:
            magic = int.from_bytes(field, "little")
            if magic == _FRAME_MAGIC:
                self._expect(_DESCRIPTOR, 1)
            elif magic & _SKIPPABLE_MASK == _SKIPPABLE_MAGIC:
                self._expect(_SKIP_SIZE, 4)
            else:
                raise LayerError("zstd layer stream is corrupt: unknown frame magic")
        elif state == _DESCRIPTOR:
            fhd = field[0]
            if fhd & 0x08:
                raise LayerError("zstd layer stream is corrupt: reserved frame header bit set")
            single_segment = bool(fhd & 0x20)
            fcs_size = (1 if single_segment else 0, 2, 4, 8)[fhd >> 6]
            did_size = (0, 1, 2, 4)[fhd & 0x03]
            self._checksum = 4 if fhd & 0x04 else 0
            window = 0 if single_segment else 1
            self._expect(_HEADER_REST, window + did_size + fcs_size)
        elif state == _HEADER_REST:
            self._expect(_BLOCK_HEADER, 3)
        elif state == _BLOCK_HEADER:
            header = int.from_bytes(field, "little")
            self._last_block = bool(header & 1)
            block_type = (header >> 1) & 0x03
            block_size = header >> 3
            if block_type == 3:
                raise LayerError("zstd layer stream is corrupt: reserved block type")
            # An RLE block (type 1) stores one byte however long it expands.
            self._payload(_BLOCK, 1 if block_type == 1 else block_size)
        elif state == _SKIP_SIZE:
            self._payload(_SKIP_DATA, int.from_bytes(field, "little"))
        elif state == _CHECKSUM:
            self._end_frame()

    def _after_payload(self) -> None:
        if self._state == _SKIP_DATA:
            self._end_frame()
        elif self._last_block:
            self._expect(_CHECKSUM, self._checksum)
        else:
            self._expect(_BLOCK_HEADER, 3)

    def _end_frame(self) -> None:
        self.frames += 1
        self._state = _MAGIC
        self._need = 4
