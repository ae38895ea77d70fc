#!/usr/bin/env python3
"""Edit one u64 field of every record with a given tag in a cr image and
make the END checksum right again, so that only restore's own checks (or
--verify) can tell.  Used by t/nonroot.sh and t/sign.sh.

    python3 t/forge.py IN OUT TAG FIELD VALUE

TAG is the record's number (tlv.h), FIELD the index of the u64 in the
row, VALUE the new value, or ^N to flip bits N of the old one."""
import struct
import sys

src, dst, tag, field, value = sys.argv[1:6]
tag, field = int(tag, 0), int(field, 0)
b = bytearray(open(src, "rb").read())
hits = 0


def walk(off, end):
    global hits
    while off < end:
        t, _, n = struct.unpack_from("<IIQ", b, off)
        if t == 16:                     # TASK: a nest
            walk(off + 16, off + 16 + n)
        elif t == tag:
            at = off + 16 + 8 * field
            old = struct.unpack_from("<Q", b, at)[0]
            new = old ^ int(value[1:], 0) if value[0] == "^" else int(value, 0)
            struct.pack_into("<Q", b, at, new)
            hits += 1
        off += 16 + n


walk(64, len(b) - 32)                   # the header; END is the last 32
if not hits:
    sys.exit("forge.py: no record with tag %d" % tag)
table = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    table.append(c)
crc = 0xFFFFFFFF
for x in b[:len(b) - 32]:
    crc = table[(crc ^ x) & 0xFF] ^ (crc >> 8)
struct.pack_into("<Q", b, len(b) - 16, crc ^ 0xFFFFFFFF)
open(dst, "wb").write(b)
