#!/usr/bin/env python3
"""A small RFB client (RFC 6143) for tests/qtest/test-vnc.c: nothing outside the standard library.

    rfb-client.py TARGET [--password PW] [--exclusive] ACTION...

TARGET is unix:PATH or HOST:PORT. The client speaks RFB 3.8 (security None or VNC
authentication), asks for 32-bit pixels (red at bit 16, green 8, blue 0, little-endian) and the
raw encoding with DesktopSize, then runs the actions in order:

    frame FILE          full FramebufferUpdateRequest; the picture is written to FILE as PPM (P6)
    wait-size W H FILE  incremental requests until the size is WxH (DesktopSize), then frame FILE
    wait-stdin          wait for a line on stdin (the test has finished drawing)
    key KEYSYM          KeyEvent down and up (KEYSYM in hex or decimal)
    keydown KEYSYM      KeyEvent down only
    keyup KEYSYM        KeyEvent up only
    ext-key XT KEYSYM   QEMU Extended Key Event (-258) down and up, after the server's ack
    pointer X Y MASK    PointerEvent
    hold                print "holding" and wait until stdin closes
    idle SECONDS        keep an incremental request outstanding; print "updates=N" received
    garbage             send bytes that are no client message
    cuttext-huge        ClientCutText claiming 1 GiB, then a little of it
    drop-mid-update     request a full update and disconnect before reading it
    sleep SECONDS

Prints "name=DESKTOP-NAME" and "size=WxH" after the handshake. Exit status: 0 done, 2 refused
(authentication failed or no security type offered), 1 any other failure.
"""
import socket
import struct
import sys
import time

# ---- DES (FIPS 46-3), encryption of one block: all VNC authentication needs ----

_PC1 = [57, 49, 41, 33, 25, 17, 9, 1, 58, 50, 42, 34, 26, 18, 10, 2, 59, 51, 43, 35, 27, 19, 11,
        3, 60, 52, 44, 36, 63, 55, 47, 39, 31, 23, 15, 7, 62, 54, 46, 38, 30, 22, 14, 6, 61, 53,
        45, 37, 29, 21, 13, 5, 28, 20, 12, 4]
_PC2 = [14, 17, 11, 24, 1, 5, 3, 28, 15, 6, 21, 10, 23, 19, 12, 4, 26, 8, 16, 7, 27, 20, 13, 2, 41,
        52, 31, 37, 47, 55, 30, 40, 51, 45, 33, 48, 44, 49, 39, 56, 34, 53, 46, 42, 50, 36, 29, 32]
_SHIFTS = [1, 1, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2, 1]
_IP = [58, 50, 42, 34, 26, 18, 10, 2, 60, 52, 44, 36, 28, 20, 12, 4, 62, 54, 46, 38, 30, 22, 14, 6,
       64, 56, 48, 40, 32, 24, 16, 8, 57, 49, 41, 33, 25, 17, 9, 1, 59, 51, 43, 35, 27, 19, 11, 3,
       61, 53, 45, 37, 29, 21, 13, 5, 63, 55, 47, 39, 31, 23, 15, 7]
_FP = [40, 8, 48, 16, 56, 24, 64, 32, 39, 7, 47, 15, 55, 23, 63, 31, 38, 6, 46, 14, 54, 22, 62, 30,
       37, 5, 45, 13, 53, 21, 61, 29, 36, 4, 44, 12, 52, 20, 60, 28, 35, 3, 43, 11, 51, 19, 59, 27,
       34, 2, 42, 10, 50, 18, 58, 26, 33, 1, 41, 9, 49, 17, 57, 25]
_E = [32, 1, 2, 3, 4, 5, 4, 5, 6, 7, 8, 9, 8, 9, 10, 11, 12, 13, 12, 13, 14, 15, 16, 17, 16, 17, 18,
      19, 20, 21, 20, 21, 22, 23, 24, 25, 24, 25, 26, 27, 28, 29, 28, 29, 30, 31, 32, 1]
_P = [16, 7, 20, 21, 29, 12, 28, 17, 1, 15, 23, 26, 5, 18, 31, 10, 2, 8, 24, 14, 32, 27, 3, 9, 19,
      13, 30, 6, 22, 11, 4, 25]
_S = [
    [14, 4, 13, 1, 2, 15, 11, 8, 3, 10, 6, 12, 5, 9, 0, 7, 0, 15, 7, 4, 14, 2, 13, 1, 10, 6, 12,
     11, 9, 5, 3, 8, 4, 1, 14, 8, 13, 6, 2, 11, 15, 12, 9, 7, 3, 10, 5, 0, 15, 12, 8, 2, 4, 9, 1,
     7, 5, 11, 3, 14, 10, 0, 6, 13],
    [15, 1, 8, 14, 6, 11, 3, 4, 9, 7, 2, 13, 12, 0, 5, 10, 3, 13, 4, 7, 15, 2, 8, 14, 12, 0, 1, 10,
     6, 9, 11, 5, 0, 14, 7, 11, 10, 4, 13, 1, 5, 8, 12, 6, 9, 3, 2, 15, 13, 8, 10, 1, 3, 15, 4, 2,
     11, 6, 7, 12, 0, 5, 14, 9],
    [10, 0, 9, 14, 6, 3, 15, 5, 1, 13, 12, 7, 11, 4, 2, 8, 13, 7, 0, 9, 3, 4, 6, 10, 2, 8, 5, 14,
     12, 11, 15, 1, 13, 6, 4, 9, 8, 15, 3, 0, 11, 1, 2, 12, 5, 10, 14, 7, 1, 10, 13, 0, 6, 9, 8, 7,
     4, 15, 14, 3, 11, 5, 2, 12],
    [7, 13, 14, 3, 0, 6, 9, 10, 1, 2, 8, 5, 11, 12, 4, 15, 13, 8, 11, 5, 6, 15, 0, 3, 4, 7, 2, 12,
     1, 10, 14, 9, 10, 6, 9, 0, 12, 11, 7, 13, 15, 1, 3, 14, 5, 2, 8, 4, 3, 15, 0, 6, 10, 1, 13, 8,
     9, 4, 5, 11, 12, 7, 2, 14],
    [2, 12, 4, 1, 7, 10, 11, 6, 8, 5, 3, 15, 13, 0, 14, 9, 14, 11, 2, 12, 4, 7, 13, 1, 5, 0, 15,
     10, 3, 9, 8, 6, 4, 2, 1, 11, 10, 13, 7, 8, 15, 9, 12, 5, 6, 3, 0, 14, 11, 8, 12, 7, 1, 14, 2,
     13, 6, 15, 0, 9, 10, 4, 5, 3],
    [12, 1, 10, 15, 9, 2, 6, 8, 0, 13, 3, 4, 14, 7, 5, 11, 10, 15, 4, 2, 7, 12, 9, 5, 6, 1, 13, 14,
     0, 11, 3, 8, 9, 14, 15, 5, 2, 8, 12, 3, 7, 0, 4, 10, 1, 13, 11, 6, 4, 3, 2, 12, 9, 5, 15, 10,
     11, 14, 1, 7, 6, 0, 8, 13],
    [4, 11, 2, 14, 15, 0, 8, 13, 3, 12, 9, 7, 5, 10, 6, 1, 13, 0, 11, 7, 4, 9, 1, 10, 14, 3, 5, 12,
     2, 15, 8, 6, 1, 4, 11, 13, 12, 3, 7, 14, 10, 15, 6, 8, 0, 5, 9, 2, 6, 11, 13, 8, 1, 4, 10, 7,
     9, 5, 0, 15, 14, 2, 3, 12],
    [13, 2, 8, 4, 6, 15, 11, 1, 10, 9, 3, 14, 5, 0, 12, 7, 1, 15, 13, 8, 10, 3, 7, 4, 12, 5, 6, 11,
     0, 14, 9, 2, 7, 11, 4, 1, 9, 12, 14, 2, 0, 6, 10, 13, 15, 3, 5, 8, 2, 1, 14, 7, 4, 10, 8, 13,
     15, 12, 9, 0, 3, 5, 6, 11],
]


def _permute(value, table, width):
    """Bit i of the result (from the left, 1-based in the table) is bit table[i] of value."""
    out = 0
    for pos in table:
        out = (out << 1) | ((value >> (width - pos)) & 1)
    return out


def des_encrypt_block(key, block):
    k = _permute(int.from_bytes(key, 'big'), _PC1, 64)
    c, d = k >> 28, k & 0xFFFFFFF
    subkeys = []
    for s in _SHIFTS:
        c = ((c << s) | (c >> (28 - s))) & 0xFFFFFFF
        d = ((d << s) | (d >> (28 - s))) & 0xFFFFFFF
        subkeys.append(_permute((c << 28) | d, _PC2, 56))
    v = _permute(int.from_bytes(block, 'big'), _IP, 64)
    left, right = v >> 32, v & 0xFFFFFFFF
    for sk in subkeys:
        x = _permute(right, _E, 32) ^ sk
        f = 0
        for i in range(8):
            six = (x >> (42 - 6 * i)) & 0x3F
            row = ((six & 0x20) >> 4) | (six & 1)
            f = (f << 4) | _S[i][row * 16 + ((six >> 1) & 0xF)]
        left, right = right, left ^ _permute(f, _P, 32)
    return _permute((right << 32) | left, _FP, 64).to_bytes(8, 'big')


def vnc_auth_response(password, challenge):
    """RFC 6143 §7.2.2: DES with the password's first 8 bytes, each byte's bits mirrored."""
    key = password.encode('latin-1')[:8].ljust(8, b'\0')
    key = bytes(int(f'{b:08b}'[::-1], 2) for b in key)
    return des_encrypt_block(key, challenge[:8]) + des_encrypt_block(key, challenge[8:16])


# ---- the connection ----

class Refused(Exception):
    pass


class Rfb:
    def __init__(self, target, password=None, shared=True):
        if target.startswith('unix:'):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.connect(target[5:])
        else:
            host, port = target.rsplit(':', 1)
            self.sock = socket.create_connection((host.strip('[]'), int(port)))
        self.sock.settimeout(20)
        self.password = password
        self.handshake(shared)

    def recv(self, n):
        data = b''
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise EOFError('server closed the connection')
            data += chunk
        return data

    def send(self, data):
        self.sock.sendall(data)

    def reason(self):
        (n,) = struct.unpack('>I', self.recv(4))
        return self.recv(n).decode('latin-1')

    def handshake(self, shared):
        version = self.recv(12)
        if not version.startswith(b'RFB 003.'):
            raise ValueError(f'not an RFB server: {version!r}')
        self.send(b'RFB 003.008\n')
        (count,) = struct.unpack('B', self.recv(1))
        if count == 0:
            raise Refused(self.reason())
        types = self.recv(count)
        if 1 in types and self.password is None:
            self.send(b'\x01')
        elif 2 in types:
            if self.password is None:
                raise Refused('server wants VNC authentication and no password was given')
            self.send(b'\x02')
            challenge = self.recv(16)
            self.send(vnc_auth_response(self.password, challenge))
        else:
            raise Refused(f'no usable security type in {list(types)}')
        (result,) = struct.unpack('>I', self.recv(4))
        if result != 0:
            raise Refused(self.reason())
        self.send(struct.pack('B', 1 if shared else 0))
        w, h = struct.unpack('>HH', self.recv(4))
        self.recv(16)  # the server's pixel format: ours follows
        (n,) = struct.unpack('>I', self.recv(4))
        self.name = self.recv(n).decode('utf-8', 'replace')
        self.width, self.height = w, h
        self.pixels = bytearray(w * h * 4)
        self.covered = None
        # SetPixelFormat: 32 bpp, depth 24, little-endian, true colour, max 255, shifts 16/8/0.
        self.send(struct.pack('>BxxxBBBBHHHBBBxxx', 0, 32, 24, 0, 1, 255, 255, 255, 16, 8, 0))
        self.set_encodings([0, -223])

    def set_encodings(self, encodings):
        self.send(struct.pack('>BxH', 2, len(encodings)) +
                  b''.join(struct.pack('>i', e) for e in encodings))

    def request(self, incremental, x=0, y=0, w=None, h=None):
        w = self.width if w is None else w
        h = self.height if h is None else h
        self.send(struct.pack('>BBHHHH', 3, 1 if incremental else 0, x, y, w, h))

    def read_message(self):
        """Reads one server message; returns the list of rectangle encodings of an update."""
        (kind,) = struct.unpack('B', self.recv(1))
        if kind == 0:
            (count,) = struct.unpack('>xH', self.recv(3))
            return [self.read_rect() for _ in range(count)]
        if kind == 1:  # SetColourMapEntries: not expected with true colour
            _, n = struct.unpack('>xHH', self.recv(5))
            self.recv(6 * n)
        elif kind == 2:  # Bell
            pass
        elif kind == 3:  # ServerCutText
            (n,) = struct.unpack('>xxxI', self.recv(7))
            self.recv(n)
        else:
            raise ValueError(f'unknown server message {kind}')
        return []

    def read_rect(self):
        x, y, w, h, enc = struct.unpack('>HHHHi', self.recv(12))
        if enc == 0:
            if x + w > self.width or y + h > self.height:
                raise ValueError(f'rectangle {w}x{h}+{x}+{y} outside {self.width}x{self.height}')
            data = self.recv(w * h * 4)
            for row in range(h):
                start = ((y + row) * self.width + x) * 4
                self.pixels[start:start + w * 4] = data[row * w * 4:(row + 1) * w * 4]
                if self.covered is not None:
                    start //= 4
                    self.covered[start:start + w] = b'\1' * w
        elif enc == -223:  # DesktopSize
            self.width, self.height = w, h
            self.pixels = bytearray(w * h * 4)
        elif enc == -258:  # QEMU Extended Key Event: the server's ack
            pass
        else:
            raise ValueError(f'unexpected encoding {enc}')
        return enc

    def frame(self):
        """A whole picture: raw rectangles covering every pixel since the request (updates asked
        for earlier may still arrive first, and the server may split its answer)."""
        self.request(False)
        self.covered = bytearray(self.width * self.height)
        while self.covered.count(0):
            if -223 in self.read_message():  # new size: ask again for the whole new picture
                self.covered = bytearray(self.width * self.height)
                self.request(False)

    def write_ppm(self, path):
        with open(path, 'wb') as f:
            f.write(b'P6 %d %d 255\n' % (self.width, self.height))
            rgb = bytearray(self.width * self.height * 3)
            px = self.pixels
            rgb[0::3] = px[2::4]
            rgb[1::3] = px[1::4]
            rgb[2::3] = px[0::4]
            f.write(rgb)

    def wait_size(self, w, h, timeout=20):
        deadline = time.monotonic() + timeout
        while (self.width, self.height) != (w, h):
            if time.monotonic() > deadline:
                raise TimeoutError(f'size stayed {self.width}x{self.height}')
            self.request(True)
            self.read_message()

    def key(self, keysym, down):
        self.send(struct.pack('>BBxxI', 4, 1 if down else 0, keysym))

    def ext_key(self, xt, keysym):
        self.set_encodings([0, -223, -258])
        self.request(True, 0, 0, 1, 1)
        while -258 not in self.read_message():
            self.request(True, 0, 0, 1, 1)
        for down in (1, 0):
            self.send(struct.pack('>BBHII', 255, 0, down, keysym, xt))

    def pointer(self, x, y, mask):
        self.send(struct.pack('>BBHH', 5, mask, x, y))


def run(args):
    password, shared, target = None, True, None
    # Options and TARGET in any order, before the actions.
    while args and (args[0].startswith('--') or target is None):
        opt = args.pop(0)
        if opt == '--password':
            password = args.pop(0)
        elif opt == '--exclusive':
            shared = False
        elif opt.startswith('--'):
            raise ValueError(f'unknown option {opt}')
        else:
            target = opt
    rfb = Rfb(target, password, shared)
    print(f'name={rfb.name}', flush=True)
    print(f'size={rfb.width}x{rfb.height}', flush=True)
    while args:
        action = args.pop(0)
        if action == 'frame':
            rfb.frame()
            rfb.write_ppm(args.pop(0))
            print('frame-done', flush=True)
        elif action == 'wait-size':
            w, h = int(args.pop(0)), int(args.pop(0))
            rfb.wait_size(w, h)
            rfb.frame()
            rfb.write_ppm(args.pop(0))
            print('size-done', flush=True)
        elif action == 'wait-stdin':
            sys.stdin.readline()
        elif action in ('key', 'keydown', 'keyup'):
            keysym = int(args.pop(0), 0)
            if action != 'keyup':
                rfb.key(keysym, True)
            if action != 'keydown':
                rfb.key(keysym, False)
        elif action == 'ext-key':
            xt, keysym = int(args.pop(0), 0), int(args.pop(0), 0)
            rfb.ext_key(xt, keysym)
        elif action == 'pointer':
            rfb.pointer(int(args.pop(0)), int(args.pop(0)), int(args.pop(0)))
        elif action == 'hold':
            print('holding', flush=True)
            sys.stdin.read()
        elif action == 'garbage':
            rfb.send(bytes([0xC8, 0x7F, 0x00, 0xFF] * 64))
        elif action == 'cuttext-huge':
            rfb.send(struct.pack('>BxxxI', 6, 1 << 30) + b'x' * 4096)
        elif action == 'drop-mid-update':
            rfb.request(False)
            rfb.recv(1)
            rfb.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
            rfb.sock.close()
            return 0
        elif action == 'idle':
            # A viewer at rest: one incremental request outstanding, as viewers keep it.
            seconds = float(args.pop(0))
            rfb.request(True)
            rfb.sock.settimeout(seconds)
            updates = 0
            try:
                while True:
                    rfb.read_message()
                    updates += 1
                    rfb.request(True)
            except socket.timeout:
                pass
            rfb.sock.settimeout(20)
            print(f'updates={updates}', flush=True)
        elif action == 'sleep':
            time.sleep(float(args.pop(0)))
        else:
            raise ValueError(f'unknown action {action}')
    # Make sure the server has taken everything sent: one more round trip.
    rfb.request(True, 0, 0, 1, 1)
    rfb.sock.shutdown(socket.SHUT_WR)
    return 0


def main():
    try:
        return run(sys.argv[1:])
    except Refused as e:
        print(f'refused: {e}', flush=True)
        return 2
    except (OSError, EOFError, ValueError, TimeoutError) as e:
        print(f'error: {e}', flush=True)
        return 1


if __name__ == '__main__':
    sys.exit(main())
