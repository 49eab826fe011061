#!/usr/bin/python3
"""Independent reader of TensorBoard event files, for checking gramrl's C++ writer.

Uses only the Python standard library: its own CRC-32C (bit-at-a-time table, reflected polynomial
0x82F63B78) and its own protobuf wire-format decoder, not gramrl's tensorboard_event.proto. Field
numbers are upstream TensorBoard's (tensorflow/tensorboard, tensorboard/compat/proto/event.proto
and summary.proto):

    Event:         wall_time=1 (double), step=2 (int64), file_version=3 (string), summary=5
    Summary:       value=1 (repeated Summary.Value)
    Summary.Value: tag=1 (string), simple_value=2 (float)

Each file is a sequence of TFRecords: uint64 length (little endian), uint32 masked CRC-32C of the
8 length bytes, the data, uint32 masked CRC-32C of the data; mask(c) = ((c >> 15) | (c << 17)) +
0xa282ead8 (mod 2^32).

Prints one JSON line per scalar: {"step": 12, "wall_time": 1732622401.5, "tag": "loss",
"value": 0.5}; non-finite values print as null. With --expect FILE (JSON lines of the same form),
compares instead and prints nothing on success.

Exit status: 0 on success, 1 on any framing, CRC or protobuf decoding error (the message names the
byte offset), 2 when the scalars differ from --expect.

    /usr/bin/python3 scripts/reference/tensorboard/read_events.py <events.out.tfevents.*>

If the optional `crc32c` package (python3-crc32c) is importable, every CRC is cross-checked with it.
"""

import argparse
import json
import math
import struct
import sys

try:
    import crc32c as _crc32c_module  # optional cross-check
except ImportError:
    _crc32c_module = None

_POLY = 0x82F63B78
_MASK_DELTA = 0xA282EAD8


def _make_table():
    table = []
    for b in range(256):
        c = b
        for _ in range(8):
            c = (c >> 1) ^ (_POLY if c & 1 else 0)
        table.append(c)
    return table


_TABLE = _make_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = (c >> 8) ^ _TABLE[(c ^ b) & 0xFF]
    c ^= 0xFFFFFFFF
    if _crc32c_module is not None and _crc32c_module.crc32c(bytes(data)) != c:
        raise AssertionError("CRC-32C implementations disagree")
    return c


def masked_crc(data):
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + _MASK_DELTA) & 0xFFFFFFFF


class FormatError(Exception):
    pass


def read_records(blob, name):
    """Yields (offset, data) for every record, verifying both CRCs."""
    offset = 0
    while offset < len(blob):
        if len(blob) - offset < 12:
            raise FormatError(f"{name}: truncated record header at byte offset {offset}")
        (length,) = struct.unpack_from("<Q", blob, offset)
        (length_crc,) = struct.unpack_from("<I", blob, offset + 8)
        if masked_crc(blob[offset : offset + 8]) != length_crc:
            raise FormatError(f"{name}: bad length CRC at byte offset {offset}")
        end = offset + 12 + length
        if end + 4 > len(blob):
            raise FormatError(f"{name}: truncated record at byte offset {offset} (length {length})")
        data = blob[offset + 12 : end]
        (data_crc,) = struct.unpack_from("<I", blob, end)
        if masked_crc(data) != data_crc:
            raise FormatError(f"{name}: bad data CRC at byte offset {offset}")
        yield offset, data
        offset = end + 4


def _varint(buf, pos):
    result = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise FormatError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise FormatError("varint longer than 10 bytes")


def fields(buf):
    """Yields (field number, wire type, value) of one message; value is int, bytes or raw bytes."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise FormatError("field number 0")
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            if pos + 8 > len(buf):
                raise FormatError("truncated fixed64")
            value, pos = buf[pos : pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            if pos + length > len(buf):
                raise FormatError("truncated length-delimited field")
            value, pos = buf[pos : pos + length], pos + length
        elif wire == 5:
            if pos + 4 > len(buf):
                raise FormatError("truncated fixed32")
            value, pos = buf[pos : pos + 4], pos + 4
        else:
            raise FormatError(f"unsupported wire type {wire} for field {number}")
        yield number, wire, value


def decode_event(data):
    """Returns (wall_time, step, file_version or None, [(tag, value)])."""
    wall_time, step, version, scalars = 0.0, 0, None, []
    for number, wire, value in fields(data):
        if number == 1 and wire == 1:
            (wall_time,) = struct.unpack("<d", value)
        elif number == 2 and wire == 0:
            step = value - (1 << 64) if value >= 1 << 63 else value  # int64 is two's complement
        elif number == 3 and wire == 2:
            version = bytes(value).decode("utf-8")
        elif number == 5 and wire == 2:
            for vnum, vwire, vbytes in fields(value):
                if vnum != 1 or vwire != 2:
                    continue
                tag, simple = "", None
                for n, w, v in fields(vbytes):
                    if n == 1 and w == 2:
                        tag = bytes(v).decode("utf-8")
                    elif n == 2 and w == 5:
                        (simple,) = struct.unpack("<f", v)
                if simple is not None:
                    scalars.append((tag, simple))
    return wall_time, step, version, scalars


def read_scalars(path):
    with open(path, "rb") as f:
        blob = memoryview(f.read())
    out = []
    first = True
    for offset, data in read_records(blob, path):
        try:
            wall_time, step, version, scalars = decode_event(data)
        except FormatError as e:
            raise FormatError(f"{path}: record at byte offset {offset}: {e}") from None
        if first and version is None:
            raise FormatError(f"{path}: first record carries no file_version")
        if first and not version.startswith("brain.Event:"):
            raise FormatError(f"{path}: unexpected file_version {version!r}")
        first = False
        for tag, value in scalars:
            out.append({"step": step, "wall_time": wall_time, "tag": tag,
                        "value": value if math.isfinite(value) else None})
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("path")
    parser.add_argument("--expect", help="JSON lines the scalars must equal")
    args = parser.parse_args()
    try:
        scalars = read_scalars(args.path)
    except (FormatError, UnicodeDecodeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if args.expect is None:
        for s in scalars:
            print(json.dumps(s))
        return 0
    with open(args.expect) as f:
        expected = [json.loads(line) for line in f if line.strip()]
    if scalars != expected:
        print(f"mismatch: {len(scalars)} scalars read, {len(expected)} expected", file=sys.stderr)
        for i, (got, want) in enumerate(zip(scalars, expected)):
            if got != want:
                print(f"  first difference at scalar {i}: read {got}, expected {want}", file=sys.stderr)
                break
        return 2
    print(f"ok: {len(scalars)} scalars match", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
