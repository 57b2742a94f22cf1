#!/usr/bin/env python3
"""Writes fuzz-virtqueue's seeds (tests/fuzz/fuzz-virtqueue.c has the input language):
valid chains and each hostile ring shape of tests/unit/test-virtqueue.c.

    tests/fuzz/gen-virtqueue-seeds.py tests/fuzz/corpus/virtqueue
"""
import os
import struct
import sys

(DESC, AVAIL_ADD, AVAIL_IDX, AVAIL_FLAGS, USED_EVENT, POP, PUSH, UNPOP, NOTIFY, KICK, RESET,
 SETUP, STATUS, SAVE_LOAD, INVALIDATE, RAM) = range(16)
NEXT, WRITE, INDIRECT = 1, 2, 4
ALL = 3  # INDIRECT_DESC | EVENT_IDX
QLOG2 = 4  # 16 entries
BUF = 0x10000
TABLE = [0x4000, 0x5000, 0x6000]
OUTSIDE = 0x10000000
HOLE = 0xA0000
RAM_END = 0x100000


def desc(i, addr, length, flags=0, nxt=0, table=0):
    return struct.pack('<BBBIBIBH', DESC, table, i, addr & 0xffffffff, addr >> 32, length,
                       flags, nxt)


def add(head):
    return struct.pack('<BH', AVAIL_ADD, head)


def op(code, fmt='', *args):
    return struct.pack('<B' + fmt, code, *args)


def pop():
    return op(POP)


def push(which=0, written=8):
    return op(PUSH, 'BI', which, written)


def hostile_tail():
    """What the unit test asserts after a break: nothing served, kicks ignored, a reset."""
    return pop() + op(KICK, 'B', 0) + op(STATUS, 'B', 0x0f) + pop() + op(RESET) + \
        desc(0, BUF, 4, WRITE) + add(0) + pop() + push(0, 4) + op(NOTIFY)


def seeds():
    s = {}
    hdr = bytes([ALL, QLOG2])
    s['single'] = hdr + desc(0, BUF, 16, WRITE) + add(0) + op(KICK, 'B', 0) + pop() + \
        push(0, 16) + op(NOTIFY)
    s['chain'] = hdr + desc(0, BUF, 8, NEXT, 1) + desc(1, BUF + 0x1000, 100, NEXT, 2) + \
        desc(2, BUF + 0x2000, 64, WRITE) + add(0) + pop() + push(0, 1000) + op(NOTIFY)
    s['indirect'] = hdr + desc(0, BUF, 8, NEXT, 1, table=1) + \
        desc(1, BUF + 0x1000, 512, WRITE, 0, table=1) + desc(3, TABLE[0], 32, INDIRECT) + \
        add(3) + pop() + push(0, 512) + op(NOTIFY)
    s['out-of-order'] = hdr + b''.join(desc(i, BUF + 0x1000 * i, 8, WRITE) for i in range(4)) + \
        b''.join(add(i) for i in range(4)) + pop() * 4 + push(2) + push(0) + op(NOTIFY) + \
        push(1) + push(0) + op(NOTIFY)
    s['unpop'] = hdr + desc(0, BUF, 8, WRITE) + add(0) + pop() + op(UNPOP) + pop() + push()
    s['zero-length'] = hdr + desc(0, BUF, 0, NEXT, 1) + desc(1, BUF, 8, WRITE) + add(0) + \
        pop() + push()
    s['longest-chain'] = bytes([ALL, 8]) + \
        b''.join(desc(i, BUF + i, 1, NEXT, (i + 1) & 0xff) for i in range(255)) + \
        desc(255, BUF, 1, WRITE) + add(0) + pop() + push()
    s['event-idx-wrap'] = hdr + op(AVAIL_IDX, 'H', 0xfffd) + \
        op(SAVE_LOAD, 'BBI', 1, 1, 0xfffd) + op(SAVE_LOAD, 'BBI', 1, 2, 0xfffd) + \
        b''.join(desc(i, BUF + 0x100 * i, 8, WRITE) for i in range(6)) + \
        b''.join(add(i) + op(USED_EVENT, 'H', (0xfffd + i) & 0xffff) + pop() + push() +
                 op(NOTIFY) for i in range(6))
    s['no-interrupt'] = bytes([0, QLOG2]) + op(AVAIL_FLAGS, 'H', 1) + desc(0, BUF, 8, WRITE) + \
        add(0) + pop() + push() + op(NOTIFY) + op(AVAIL_FLAGS, 'H', 0) + add(0) + pop() + \
        push() + op(NOTIFY)
    s['reset-in-flight'] = hdr + desc(0, BUF, 8, WRITE) + desc(1, BUF + 0x1000, 8, WRITE) + \
        add(0) + add(1) + pop() + pop() + op(RESET) + push(0) + desc(0, BUF, 8, WRITE) + add(0) + \
        pop() + push(1) + push(0)
    s['save-in-flight'] = hdr + desc(0, BUF, 8, WRITE) + desc(1, BUF + 0x1000, 8, WRITE) + \
        add(0) + add(1) + pop() + pop() + push(0) + op(SAVE_LOAD, 'BBI', 0, 0, 0) + pop() + \
        op(UNPOP) + pop() + push(1) + push(0) + push(0) + op(NOTIFY)
    s['invalidate-in-flight'] = hdr + desc(0, BUF, 0x3000, WRITE) + add(0) + pop() + \
        op(INVALIDATE) + push(0, 0x3000) + desc(0, BUF, 8, WRITE) + add(0) + pop() + push()
    s['bucket-crossing'] = hdr + desc(0, 0x1fff0, 0x20, WRITE) + add(0) + pop() + push(0, 0x20)
    s['custom-rings'] = hdr + op(SETUP, 'BBBIII', ALL, 3, 1, 0x20000, 0x20100, 0x20200) + \
        desc(0, BUF, 8, WRITE) + add(0) + pop() + push() + op(NOTIFY)

    hostile = {
        'loop': desc(0, BUF, 8, NEXT, 1) + desc(1, BUF, 8, NEXT, 0) + add(0),
        'self-loop': desc(6, BUF, 8, NEXT | WRITE, 6) + add(6),
        'next-out-of-range': desc(0, BUF, 8, NEXT, 16) + add(0),
        'head-out-of-range': add(19),
        'head-twice': desc(2, BUF, 8, WRITE) + add(2) + add(2) + pop(),
        'avail-jump': desc(0, BUF, 8, WRITE) + op(AVAIL_IDX, 'H', 17),
        'avail-backwards': op(AVAIL_IDX, 'H', 0xffff),
        'outside-ram': desc(0, OUTSIDE, 8, WRITE) + add(0),
        'in-the-hole': desc(0, HOLE + 0x100, 8, WRITE) + add(0),
        'across-ram-end': desc(0, RAM_END - 8, 16) + add(0),
        '4g-buffer': desc(0, BUF, 0xffffffff, WRITE) + add(0),
        'wrapping-buffer': desc(0, (1 << 40) - 0x100, 0x200) + add(0),
        'second-buffer-bad': desc(0, BUF, 8, NEXT, 1) + desc(1, OUTSIDE, 8, WRITE) + add(0),
        'readable-after-writable': desc(0, BUF, 8, NEXT | WRITE, 1) + desc(1, BUF + 0x1000, 8) +
        add(0),
        'indirect-bad-len': desc(0, BUF, 8, table=1) + desc(0, TABLE[0], 24, INDIRECT) + add(0),
        'indirect-zero-len': desc(0, TABLE[0], 0, INDIRECT) + add(0),
        'indirect-too-long': desc(0, TABLE[0], 16 * 257, INDIRECT) + add(0),
        'indirect-nested': desc(0, BUF, 8, NEXT, 1, table=1) +
        desc(1, TABLE[1], 16, INDIRECT, table=1) + desc(0, BUF, 8, table=2) +
        desc(0, TABLE[0], 32, INDIRECT) + add(0),
        'indirect-with-next': desc(0, BUF, 8, table=1) + desc(0, TABLE[0], 16, INDIRECT | NEXT, 1) +
        desc(1, BUF, 8, WRITE) + add(0),
        'indirect-outside-ram': desc(0, OUTSIDE, 64, INDIRECT) + add(0),
        'indirect-loop': desc(0, BUF, 8, NEXT, 1, table=1) + desc(1, BUF, 8, NEXT, 0, table=1) +
        desc(0, TABLE[0], 32, INDIRECT) + add(0),
        'indirect-next-out-of-range': desc(0, BUF, 8, NEXT, 2, table=1) +
        desc(0, TABLE[0], 32, INDIRECT) + add(0),
        'indirect-readable-after-writable': desc(0, BUF, 8, NEXT | WRITE, 1) +
        desc(0, BUF, 8, table=1) + desc(1, TABLE[0], 16, INDIRECT) + add(0),
        'too-many-buffers': b''.join(desc(i, BUF, 1, NEXT, i + 1) for i in range(15)) +
        b''.join(desc(i, BUF, 1, NEXT if i < 255 else 0, (i + 1) & 0xffff, table=1)
                 for i in range(256)) + desc(15, TABLE[0], 16 * 256, INDIRECT) + add(0),
    }
    for name, body in hostile.items():
        s['hostile-' + name] = hdr + body + hostile_tail()
    s['hostile-indirect-not-negotiated'] = bytes([2, QLOG2]) + desc(0, BUF, 8, table=1) + \
        desc(0, TABLE[0], 16, INDIRECT) + add(0) + hostile_tail()
    s['hostile-bad-rings'] = hdr + op(SETUP, 'BBBIII', ALL, 4, 1, 0x1008, 0x2000, 0x3000) + \
        pop() + op(SETUP, 'BBBIII', ALL, 4, 1, 0x1000, 0x2001, 0x3002) + pop() + \
        op(SETUP, 'BBBIII', ALL, 4, 1, OUTSIDE, 0x2000, 0x3000) + pop() + \
        op(SETUP, 'BBBIII', ALL, 4, 1, 0x1000, 0x2000, HOLE) + pop() + op(RESET)
    s['hostile-load-garbage'] = hdr + desc(0, BUF, 8, WRITE) + add(0) + pop() + \
        op(SAVE_LOAD, 'BBI', 1, 0, 3) + pop() + op(SAVE_LOAD, 'BBI', 1, 3, 200) + pop() + \
        op(SAVE_LOAD, 'BBI', 1, 4, OUTSIDE) + pop() + push() + op(RESET)
    return s


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, data in seeds().items():
        with open(os.path.join(out, name), 'wb') as f:
            f.write(data)


main()
