#!/usr/bin/env python3
"""A real guest for the virtio scenarios: a boot disk whose initramfs holds Debian's virtio drivers.

    tests/xen/guest/mkvirtio.py [-o DIR]     prints the directory holding boot.img
    tests/xen/guest/mkvirtio.py qemu         boots it under plain QEMU TCG with the virtio devices
                                             the rig gives it, checks it from the host (TAP)

boot.img is built as mkguest.py builds the IDE guest's (MBR, syslinux, the rig's Debian kernel, a
busybox initramfs, with mkguest's tools and module resolution), with another initramfs: the
modules virtio_pci, virtio_blk, virtio_net, virtio_rng and virtio_console with their dependencies
(resolved from each module's modinfo as mkguest resolves ata_piix's), and init-virtio as /init.
SeaBIOS boots it from a virtio-blk disk with its own virtio driver; the kernel then checks every
device through its Linux driver (see init-virtio) and powers off.

The result is cached in $XENDM_RIG_CACHE/virtio-guest-<key>, keyed by every input.
"""
import argparse
import gzip
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, HERE)
import mkguest  # noqa: E402  (the boot disk, the module resolution, the tools)
from mkguest import rig  # noqa: E402

# The drivers init-virtio loads, in this order (each after its dependencies).
VIRTIO_MODULES = ["virtio_pci", "virtio_blk", "virtio_net", "virtio_rng", "virtio_console"]
# The emulated NICs' drivers, loaded only when init-virtio finds such a NIC (the nic-* scenarios):
# 8139cp drives the RTL8139C+ (revision 0x20, which 8139too leaves to it), e1000 the 82540EM.
NIC_MODULES = ["8139cp", "8139too", "e1000"]
# The standard VGA's DRM driver, loaded only when init-virtio finds a 1234:1111 (the vga-console
# scenario): bochs sets a VBE mode through the DISPI registers and gives /dev/fb0.
VGA_MODULES = ["bochs"]
# Bump when the image's layout changes in a way the inputs do not show.
IMAGE_FORMAT = "3"

# The data disk (the layout init-virtio and scenarios/virtio-guest.sh share): the label in its
# first bytes, the guest's 64 MiB pattern at 8 MiB, 80 MiB in all.
VDATA_LABEL = b"XENDM-VIRTIO-DATA v1"
VDATA_MIB = 80
PATTERN_OFFSET_MIB = 8
PATTERN_MIB = 64
TCP_UP_PORT = 5001      # the guest sends, the host keeps
TCP_DOWN_PORT = 5002    # the host sends, the guest prints the MD5


def log(msg):
    print("mkvirtio: " + msg, file=sys.stderr, flush=True)


def build_initramfs(root):
    t = rig.Tree()
    for d in ["bin", "proc", "sys", "dev", "tmp", "etc", "lib/modules"]:
        t.mkdir(d)
    t.add_file("init", os.path.join(HERE, "init-virtio"), 0o755)
    t.add_file("bin/busybox", os.path.join(root, "bin/busybox"), 0o755)
    modules = mkguest.module_load_order(root, VIRTIO_MODULES)
    nic_modules = [m for m in mkguest.module_load_order(root, NIC_MODULES) if m not in modules]
    vga_modules = [m for m in mkguest.module_load_order(root, VGA_MODULES)
                   if m not in modules + nic_modules]
    for name, path in modules + nic_modules + vga_modules:
        t.add_file(f"lib/modules/{name}.ko", path, 0o644)
    t.add_bytes("etc/modules", "".join(n + "\n" for n, _ in modules).encode())
    t.add_bytes("etc/nic-modules", "".join(n + "\n" for n, _ in nic_modules).encode())
    t.add_bytes("etc/vga-modules", "".join(n + "\n" for n, _ in vga_modules).encode())
    return gzip.compress(gzip.decompress(t.newc()), compresslevel=9, mtime=0)


# Syslinux boots the kernel with a serial console; the Xen platform device must not unplug
# anything (there is nothing emulated to unplug, and no PV frontend is wanted).
KERNEL_ARGS = "console=ttyS0,115200 quiet xen_emul_unplug=never rdinit=/init"
SYSLINUX_CFG = """\
SERIAL 0 115200
PROMPT 0
TIMEOUT 0
DEFAULT guest
LABEL guest
  LINUX /vmlinuz
  INITRD /initrd.gz
  APPEND {args}
"""
PART_START = 2048   # sectors: the FAT partition starts at 1 MiB
SECTOR = 512


def build_boot_image(env, troot, kernel, initramfs, work):
    """An MBR disk with one active FAT16 partition holding syslinux, the kernel and the
    initramfs, made on the image file with sfdisk, mkfs.fat --offset, mcopy and syslinux's
    mtools installer (as mkguest.py makes the IDE guest's)."""
    files = {"vmlinuz": open(kernel, "rb").read(), "initrd.gz": initramfs,
             "syslinux.cfg": SYSLINUX_CFG.format(args=KERNEL_ARGS).encode()}
    need = sum(len(d) for d in files.values()) + 768 * 1024  # + syslinux and FAT overhead
    fat_sectors = (-(-need // (1 << 20))) << 11
    img = os.path.join(work, "boot.img")
    with open(img, "wb") as f:
        f.truncate((PART_START + fat_sectors) * SECTOR)
    mkguest.tool(env, "sfdisk", "--quiet", "--no-reread", "--no-tell-kernel", img,
                 stdin=f"label: dos\nlabel-id: 0x58454e56\nstart={PART_START}, "
                       f"size={fat_sectors}, type=e, bootable\n".encode())
    # syslinux's MBR code over the first 440 bytes: the disk signature and partitions stay.
    mbr = open(os.path.join(troot, "usr/lib/syslinux/mbr/mbr.bin"), "rb").read()
    if len(mbr) > 440:
        raise SystemExit(f"mkvirtio: mbr.bin is {len(mbr)} bytes, more than the MBR's code area")
    with open(img, "r+b") as f:
        f.write(mbr)
    # --offset also records the hidden sectors that syslinux's boot sector adds to each LBA.
    mkguest.tool(env, "mkfs.fat", "--offset", str(PART_START), "--invariant", "-n", "XENDMVIRT",
                 "-i", "58454e56", img, str(fat_sectors // 2))
    for name, data in files.items():
        path = os.path.join(work, name)
        with open(path, "wb") as f:
            f.write(data)
        mkguest.tool(env, "mcopy", "-i", f"{img}@@{PART_START * SECTOR}", path, "::/" + name)
    mkguest.tool(env, "syslinux", "--install", "--offset", str(PART_START * SECTOR), img)
    return img


def inputs_key(root, troot):
    h = hashlib.sha256()
    h.update(IMAGE_FORMAT.encode())
    h.update(os.path.basename(root).encode() + b"\0" + os.path.basename(troot).encode())
    h.update(open(os.path.join(rig.CACHE, "vmlinuz"), "rb").read())
    for name in ["mkvirtio.py", "init-virtio"]:
        h.update(open(os.path.join(HERE, name), "rb").read())
    return h.hexdigest()[:16]


def build_images(root=None):
    """The directory holding boot.img, built when its inputs changed."""
    if root is None:
        root = rig.fetch()
        rig.prepare_kernel_images(root)
    troot = mkguest.tools_root()
    out = os.path.join(rig.CACHE, "virtio-guest-" + inputs_key(root, troot))
    if os.path.exists(os.path.join(out, ".complete")):
        return out
    log(f"building the virtio guest's boot disk in {out}")
    env = mkguest.tool_env(troot)
    # A private directory renamed into place when complete (two builds may race).
    tmp = tempfile.mkdtemp(dir=rig.CACHE, prefix=os.path.basename(out) + ".tmp.")
    with tempfile.TemporaryDirectory(prefix="mkvirtio.") as work:
        initramfs = build_initramfs(root)
        img = build_boot_image(env, troot, os.path.join(rig.CACHE, "vmlinuz"), initramfs,
                               work)
        shutil.copyfile(img, os.path.join(tmp, "boot.img"))
    size = os.path.getsize(os.path.join(tmp, "boot.img"))
    with open(os.path.join(tmp, ".complete"), "w") as f:
        f.write(f"initramfs {len(initramfs)}\nboot.img {size}\n")
    try:
        os.rename(tmp, out)
    except OSError:
        if not os.path.exists(os.path.join(out, ".complete")):
            raise
        shutil.rmtree(tmp)
        return out
    log(f"boot.img {size / 1e6:.1f} MB (initramfs {len(initramfs) / 1e6:.1f} MB)")
    return out


def rig_files(root):
    """What the rig's overlay carries for the virtio-* and nic-* scenarios: dest -> host path.
    (dom0's tun, bridge and netback modules are in the rig's base.)"""
    return {"rig/virtio/boot.img": os.path.join(build_images(root), "boot.img")}


# ---------------------------------------------------------------------------------------------
# The same guest under plain QEMU (user-mode network: the guest's peer 10.0.2.2 is the host's
# loopback), checked from the host.


def make_data_disk(path):
    with open(path, "wb") as f:
        f.truncate(VDATA_MIB << 20)
        f.write(VDATA_LABEL + b"\n")


def pattern_md5(path):
    h = hashlib.md5()
    with open(path, "rb") as f:
        f.seek(PATTERN_OFFSET_MIB << 20)
        h.update(f.read(PATTERN_MIB << 20))
    return h.hexdigest()


class TcpPeer:
    """The guest's TCP peer: keeps what arrives on TCP_UP_PORT, sends a blob on TCP_DOWN_PORT."""

    def __init__(self, host="127.0.0.1"):
        self.received = bytearray()
        self.blob = os.urandom(4 << 20)
        self.up = self._listen(host, TCP_UP_PORT)
        self.down = self._listen(host, TCP_DOWN_PORT)
        threading.Thread(target=self._receive, daemon=True).start()
        threading.Thread(target=self._send, daemon=True).start()

    @staticmethod
    def _listen(host, port):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))
        s.listen(1)
        return s

    def _receive(self):
        conn, _ = self.up.accept()
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                self.received += data

    def _send(self):
        conn, _ = self.down.accept()
        with conn:
            conn.sendall(self.blob)


def guest_facts(text):
    facts = {}
    for line in text.splitlines():
        if line.startswith("GUEST-FACT "):
            words = line.split()[1:]
            key = words[0].split("=")[0] if "=" in words[0] else words[0]
            facts[key] = dict(w.split("=", 1) for w in words if "=" in w)
    return facts


def run_qemu(args):
    qemu = shutil.which(os.environ.get("QEMU", "qemu-system-x86_64"))
    if not qemu:
        print("1..0 # SKIP qemu-system-x86_64 not installed")
        return 0
    images = build_images()
    work = args.workdir or tempfile.mkdtemp(prefix="virtio-qemu.")
    os.makedirs(work, exist_ok=True)
    data = os.path.join(work, "data.img")
    make_data_disk(data)
    serial = os.path.join(work, "serial.log")
    vc = os.path.join(work, "vc.log")
    for f in (serial, vc):
        open(f, "w").close()
    peer = TcpPeer()
    cmd = [qemu, "-accel", "tcg", "-m", str(args.memory), "-nodefaults", "-display", "none",
           "-monitor", "none", "-serial", "file:" + serial, "-no-reboot",
           "-drive", f"if=none,id=vd0,file={images}/boot.img,format=raw,snapshot=on",
           "-device", "virtio-blk-pci,drive=vd0,bootindex=0",
           "-drive", f"if=none,id=vd1,file={data},format=raw",
           "-device", "virtio-blk-pci,drive=vd1",
           "-device", "virtio-rng-pci",
           "-netdev", "user,id=vn0", "-device", "virtio-net-pci,netdev=vn0,mac=00:16:3e:00:00:02",
           "-device", "virtio-serial-pci", "-chardev", f"file,id=vc0,path={vc}",
           "-device", "virtconsole,chardev=vc0"]
    t0 = time.monotonic()
    marks = {}
    with open(os.path.join(work, "qemu.log"), "w") as qlog:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=qlog, stderr=qlog)
        while proc.poll() is None and time.monotonic() - t0 < args.timeout:
            text = open(serial, "rb").read().decode(errors="replace")
            for m in ("SYSLINUX ", "GUEST-BOOTED", "GUEST-DRIVERS", "GUEST-RESULT"):
                if m not in marks and ("\n" + text).find("\n" + m) >= 0:
                    marks[m] = time.monotonic() - t0
            time.sleep(0.2)
        if proc.poll() is None:
            proc.kill()
        status = proc.wait()
    elapsed = time.monotonic() - t0
    text = open(serial, "rb").read().decode(errors="replace").replace("\r", "")
    facts = guest_facts(text)
    points = []

    def point(ok, desc):
        points.append((ok, desc))

    times = ", ".join(f"{k.strip()} {v:.1f}s" for k, v in marks.items())
    point("SYSLINUX " in marks, f"SeaBIOS booted syslinux from the virtio-blk disk ({times})")
    for line in text.splitlines():
        if line.startswith("GUEST-OK "):
            point(True, "guest: " + line[9:])
        elif line.startswith("GUEST-FAIL "):
            point(False, "guest: " + line[11:])
    summary = next((ln for ln in text.splitlines() if ln.startswith("GUEST-RESULT ")), "")
    point(summary.startswith("GUEST-RESULT pass=") and " fail=0 " in summary,
          "guest summary: " + (summary or "no GUEST-RESULT"))
    want = facts.get("pattern", {}).get("md5")
    point(want is not None and pattern_md5(data) == want,
          f"host: the data image holds the guest's {PATTERN_MIB} MiB pattern (md5 {want})")
    point(open(data, "rb").read(len(VDATA_LABEL)) == VDATA_LABEL, "host: the label is intact")
    up = facts.get("tcp-up", {})
    point(up.get("md5") == hashlib.md5(peer.received).hexdigest(),
          f"host: received {len(peer.received)} bytes over TCP with the guest's md5")
    down = facts.get("tcp-down", {})
    point(down.get("md5") == hashlib.md5(peer.blob).hexdigest(),
          f"guest received the host's {len(peer.blob)} bytes intact")
    line = facts.get("virtconsole", {}).get("line")
    vc_text = open(vc, "rb").read().decode(errors="replace")
    point(line is not None and f"VIRTCONSOLE-LINE {line}" in vc_text,
          f"host: the virtconsole's chardev carries the guest's line ({line})")
    point(status == 0 and "reboot: Power down" in text,
          f"the guest powered QEMU off ({elapsed:.1f}s in all, status {status})")
    failed = 0
    for i, (ok, desc) in enumerate(points, start=1):
        print(f"{'ok' if ok else 'not ok'} {i} - {desc}")
        failed += not ok
    print(f"1..{len(points)}")
    if failed:
        print("# --- serial output ---")
        print("".join("# " + ln + "\n" for ln in text.splitlines()), end="")
        print("".join("# qemu: " + ln for ln in open(os.path.join(work, "qemu.log"))), end="")
        return 1
    if not args.workdir:
        shutil.rmtree(work)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--output", help="also copy boot.img into this directory")
    sub = ap.add_subparsers(dest="cmd")
    q = sub.add_parser("qemu", help="boot the guest under plain QEMU TCG and check it (TAP)")
    q.add_argument("--workdir", help="keep the logs and images here")
    q.add_argument("--memory", type=int, default=384, help="guest MiB (default 384)")
    q.add_argument("--timeout", type=float, default=300, help="seconds (default 300)")
    args = ap.parse_args()
    os.makedirs(rig.CACHE, exist_ok=True)
    if args.cmd == "qemu":
        sys.exit(run_qemu(args))
    out = build_images()
    if args.output:
        os.makedirs(args.output, exist_ok=True)
        shutil.copyfile(os.path.join(out, "boot.img"), os.path.join(args.output, "boot.img"))
        out = args.output
    print(out)


if __name__ == "__main__":
    main()
