#!/usr/bin/env python3
"""A real guest for the IDE scenarios: a bootable disk image and an ISO, from Debian packages.

    tests/xen/guest/mkguest.py [-o DIR]      prints the directory holding the images

boot.img   an MBR disk (syslinux's mbr.bin, one active FAT partition at 1 MiB) whose FAT holds
           syslinux (installed by the mtools-based `syslinux --install --offset`), the rig's
           Debian kernel and an initramfs: static busybox, the IDE/SCSI/ISO 9660 modules and
           tests/xen/guest/init, which checks the disks and powers off (see README.md).
test.iso   an ISO 9660 image (xorriso -as mkisofs) of a few files whose checksums the
           initramfs carries, bootable too: El Torito (no emulation) with isolinux, the same
           kernel and initramfs, and "xrig.boot=cd" on the kernel's command line.

No loop device, no mount, no root: sfdisk, mkfs.fat --offset, mtools and syslinux all work on
the image file. The kernel and busybox come from the rig's package cache (tests/xen/rig.py
fetch); the image tools are Debian packages unpacked next to it and run from there. The result
is cached in $XENDM_RIG_CACHE/guest-<key>, keyed by every input, so it is built once.
"""
import argparse
import gzip
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(HERE))
import rig  # noqa: E402  (the package cache, the newc archive writer)

# The image tools, unpacked into the cache (their binaries run from there: see tool_env()).
TOOL_PACKAGES = ["syslinux", "syslinux-common", "isolinux", "mtools", "dosfstools", "fdisk",
                 "xorriso", "libburn4", "libisofs6", "libisoburn1", "libjte2"]
# Modules the init loads; their dependencies are added from each module's modinfo "depends".
GUEST_MODULES = ["ata_piix", "sd_mod", "sr_mod", "isofs"]
# xen_emul_unplug=never: Debian's kernel has blkfront and the Xen platform driver, so on Xen
# it would otherwise ask the device model to unplug the emulated IDE disks (the platform
# device's port 0x10) and expect PV disks instead. These guests test the emulated ones.
KERNEL_ARGS = "console=ttyS0,115200 quiet xen_emul_unplug=never rdinit=/init"
# What the init reads from /proc/cmdline: where it booted from (xrig.boot=disk|cd) and, on the
# disk, the CD's size and MD5 (xrig.iso=BYTES:MD5). The CD cannot carry its own checksum (it
# holds the initramfs and isolinux.cfg), so after a CD boot the host compares the guest's sum.
# xrig.cdchange=0 is the disk boot's checks (ide-boot); the cd-insert scenario boots a copy of
# boot.img with that one byte made 1 (datadisk.sh: guest_boot_image_cdchange), and the init
# waits for a disc in an empty drive, reads it, then waits for its eject.
DISK_BOOT_ARGS = KERNEL_ARGS + " xrig.boot=disk xrig.iso={iso_bytes}:{iso_md5} xrig.cdchange=0"
CD_BOOT_ARGS = KERNEL_ARGS + " xrig.boot=cd"
PART_START = 2048          # sectors: the partition starts at 1 MiB
SECTOR = 512
# Bump when the images' layout changes in a way the inputs do not show.
IMAGE_FORMAT = "2"


def log(msg):
    print("mkguest: " + msg, file=sys.stderr, flush=True)


def tools_root():
    return rig.fetch(TOOL_PACKAGES, "guesttools")


def tool_env(troot):
    """Runs the cached tools: their own libraries first; syslinux finds mcopy/mattrib on PATH."""
    env = dict(os.environ)
    env["PATH"] = ":".join([os.path.join(troot, d) for d in ("usr/bin", "sbin", "usr/sbin")]
                           + [env.get("PATH", "/usr/bin:/bin")])
    env["LD_LIBRARY_PATH"] = ":".join(os.path.join(troot, d) for d in rig.LIB_DIRS)
    env["MTOOLS_SKIP_CHECK"] = "1"      # a FAT made by mkfs.fat, no geometry to check
    env["SOURCE_DATE_EPOCH"] = "0"      # xorriso: reproducible time stamps
    env["LC_ALL"] = "C"
    return env


def tool(env, *cmd, stdin=None):
    """Runs a tool quietly; its output is shown only when it fails."""
    r = subprocess.run(list(cmd), env=env, input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    if r.returncode != 0:
        sys.stderr.write(r.stdout.decode(errors="replace"))
        raise SystemExit(f"mkguest: {' '.join(cmd)} failed (exit status {r.returncode})")


# ---------------------------------------------------------------------------------------------
# Kernel modules


def module_index(root):
    """name -> path of every module of the rig's kernel ('-' and '_' are the same to modprobe)."""
    kdir = os.path.join(root, "lib", "modules", rig.kernel_release(root), "kernel")
    index = {}
    for dirpath, _, files in os.walk(kdir):
        for f in files:
            if f.endswith(".ko"):
                index[f[:-3].replace("-", "_")] = os.path.join(dirpath, f)
    return index


def module_depends(path):
    """The modinfo "depends=" list: dpkg -x leaves no modules.dep, the module itself knows."""
    m = re.search(rb"(?:^|\0)depends=([^\0]*)\0", open(path, "rb").read())
    return [d.decode().replace("-", "_") for d in m.group(1).split(b",") if d] if m else []


def module_load_order(root, wanted):
    """wanted and their dependencies, each after what it depends on."""
    index = module_index(root)
    order = []

    def visit(name, chain):
        if name in order:
            return
        if name in chain:
            raise SystemExit(f"mkguest: module dependency cycle: {' -> '.join(chain + [name])}")
        if name not in index:
            raise SystemExit(f"mkguest: module {name} is not in the kernel's package")
        for dep in module_depends(index[name]):
            visit(dep, chain + [name])
        order.append(name)

    for name in wanted:
        visit(name, [])
    return [(name, index[name]) for name in order]


# ---------------------------------------------------------------------------------------------
# The ISO and the initramfs


def iso_files():
    """name -> bytes: text, and data that is not a repetition (a SHA-256 chain) over more than
    one 64 KiB ATAPI transfer, so a misplaced or repeated block changes the checksum."""
    data = bytearray()
    block = b"xendm-iso-data"
    while len(data) < 384 * 1024:
        block = hashlib.sha256(block).digest()
        data += block
    return {
        "README.TXT": b"xendm's IDE test CD: the guest checks these files' MD5 sums.\n",
        "DATA.BIN": bytes(data),
        "DOCS/SMALL.TXT": b"".join(b"line %04d of a small file on the CD\n" % i
                                   for i in range(100)),
    }


ISOLINUX_CFG = """\
SERIAL 0 115200
PROMPT 0
TIMEOUT 0
DEFAULT guest
LABEL guest
  LINUX /vmlinuz
  INITRD /initrd.gz
  APPEND {args}
"""


def build_iso(env, troot, kernel, initramfs, work):
    """The CD: the checked files, and the kernel and initramfs with isolinux as its El Torito
    boot image (no emulation: SeaBIOS loads 4 virtual 512-byte sectors of isolinux.bin, and
    -boot-info-table patches in where the rest of it is). isolinux wants ldlinux.c32 in its own
    directory; it matches ISO 9660 names without regard to case."""
    src = os.path.join(work, "iso")
    files = dict(iso_files())
    files["vmlinuz"] = open(kernel, "rb").read()
    files["initrd.gz"] = initramfs
    files["isolinux/isolinux.cfg"] = ISOLINUX_CFG.format(args=CD_BOOT_ARGS).encode()
    files["isolinux/isolinux.bin"] = open(os.path.join(troot, "usr/lib/ISOLINUX/isolinux.bin"),
                                          "rb").read()
    files["isolinux/ldlinux.c32"] = open(
        os.path.join(troot, "usr/lib/syslinux/modules/bios/ldlinux.c32"), "rb").read()
    for name, data in files.items():
        path = os.path.join(src, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    iso = os.path.join(work, "test.iso")
    tool(env, "xorriso", "-as", "mkisofs", "-quiet", "-o", iso, "-V", "XENDM_TEST", "-R", "-J",
         "-b", "isolinux/isolinux.bin", "-c", "isolinux/boot.cat", "-no-emul-boot",
         "-boot-load-size", "4", "-boot-info-table", src)
    return iso


def build_cdstatus(work):
    """cdstatus.c, freestanding (no libc: a few KiB where a static glibc adds 700): the drive's
    tray and medium as Linux's CDROM_DRIVE_STATUS reports them. The host's C compiler ($CC,
    default cc) builds it; the guest's kernel is x86-64 like the host."""
    out = os.path.join(work, "cdstatus")
    cmd = [os.environ.get("CC", "cc"), "-static", "-nostdlib", "-ffreestanding",
           "-fno-stack-protector", "-fno-pie", "-no-pie", "-Os", "-s", "-Wl,--build-id=none",
           "-Wall", "-Wextra", "-Werror", "-o", out, os.path.join(HERE, "cdstatus.c")]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        sys.stderr.write(r.stdout.decode(errors="replace"))
        raise SystemExit(f"mkguest: {' '.join(cmd)} failed (exit status {r.returncode})")
    return out


def build_initramfs(root, kernel, work):
    t = rig.Tree()
    for d in ["bin", "proc", "sys", "dev", "tmp", "mnt/cd", "etc", "lib/modules"]:
        t.mkdir(d)
    t.add_file("init", os.path.join(HERE, "init"), 0o755)
    t.add_file("bin/busybox", os.path.join(root, "bin/busybox"), 0o755)
    t.add_file("bin/cdstatus", build_cdstatus(work), 0o755)
    t.add_file("etc/datadisk.sh", os.path.join(HERE, "datadisk.sh"), 0o644)
    modules = module_load_order(root, GUEST_MODULES)
    for name, path in modules:
        t.add_file(f"lib/modules/{name}.ko", path, 0o644)
    t.add_bytes("etc/modules", "".join(n + "\n" for n, _ in modules).encode())
    # What the guest checks on the CD: each file's MD5, the kernel's too (the CD carries it).
    # Not the initramfs (this archive) nor the whole medium's (it holds this archive): the
    # disk's kernel command line carries that one.
    checked = dict(iso_files())
    checked["vmlinuz"] = open(kernel, "rb").read()
    sums = "".join(f"{hashlib.md5(data).hexdigest()}  {name}\n"
                   for name, data in sorted(checked.items()))
    t.add_bytes("etc/iso.md5", sums.encode())
    # rig.Tree compresses for speed; this archive is built once and carried in every run.
    return gzip.compress(gzip.decompress(t.newc()), compresslevel=9, mtime=0)


# ---------------------------------------------------------------------------------------------
# The boot disk


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


def build_boot_image(env, troot, kernel, initramfs, iso, work):
    iso_data = open(iso, "rb").read()
    args = DISK_BOOT_ARGS.format(iso_bytes=len(iso_data), iso_md5=hashlib.md5(iso_data).hexdigest())
    files = {"vmlinuz": open(kernel, "rb").read(), "initrd.gz": initramfs,
             "syslinux.cfg": SYSLINUX_CFG.format(args=args).encode()}
    # The FAT: the files, syslinux's ~150 KiB, FAT overhead; rounded up to whole MiB.
    need = sum(len(d) for d in files.values()) + 768 * 1024
    fat_mib = -(-need // (1 << 20))
    fat_sectors = fat_mib << 11
    img = os.path.join(work, "boot.img")
    with open(img, "wb") as f:
        f.truncate((PART_START + fat_sectors) * SECTOR)
    # MBR: one active FAT16 (LBA) partition; then syslinux's boot code over the first 440
    # bytes (the code area before the disk signature and the partition table).
    tool(env, "sfdisk", "--quiet", "--no-reread", "--no-tell-kernel", img,
         stdin=f"label: dos\nlabel-id: 0x58454e44\nstart={PART_START}, size={fat_sectors}, "
               f"type=e, bootable\n".encode())
    mbr = open(os.path.join(troot, "usr/lib/syslinux/mbr/mbr.bin"), "rb").read()
    if len(mbr) > 440:
        raise SystemExit(f"mkguest: mbr.bin is {len(mbr)} bytes, more than the MBR's code area")
    with open(img, "r+b") as f:
        f.write(mbr)
    # mkfs.fat --offset writes the FAT into the partition and records the offset as its
    # hidden sectors, which syslinux's boot sector adds to every LBA it reads.
    tool(env, "mkfs.fat", "--offset", str(PART_START), "--invariant", "-n", "XENDMBOOT",
         "-i", "58454e44", img, str(fat_sectors // 2))
    fat = f"{img}@@{PART_START * SECTOR}"
    for name, data in files.items():
        path = os.path.join(work, name)
        with open(path, "wb") as f:
            f.write(data)
        tool(env, "mcopy", "-i", fat, path, "::/" + name)
    tool(env, "syslinux", "--install", "--offset", str(PART_START * SECTOR), img)
    return img


# ---------------------------------------------------------------------------------------------
# The cache


def inputs_key(root, troot):
    h = hashlib.sha256()
    h.update(IMAGE_FORMAT.encode())
    h.update(os.path.basename(root).encode() + b"\0" + os.path.basename(troot).encode())
    h.update(open(os.path.join(rig.CACHE, "vmlinuz"), "rb").read())
    for name in ["mkguest.py", "init", "datadisk.sh", "cdstatus.c"]:
        h.update(open(os.path.join(HERE, name), "rb").read())
    return h.hexdigest()[:16]


def build_images(root=None):
    """The directory holding boot.img and test.iso, built when its inputs changed.
    root: the rig's unpacked packages (rig.fetch()), fetched when not given."""
    if root is None:
        root = rig.fetch()
        rig.prepare_kernel_images(root)
    troot = tools_root()
    out = os.path.join(rig.CACHE, "guest-" + inputs_key(root, troot))
    if os.path.exists(os.path.join(out, ".complete")):
        return out
    log(f"building the guest images in {out}")
    env = tool_env(troot)
    # A private directory, renamed into place when complete: two builds (the plain and the
    # sanitized one running their tests) may build the same images at once.
    tmp = tempfile.mkdtemp(dir=rig.CACHE, prefix=os.path.basename(out) + ".tmp.")
    with tempfile.TemporaryDirectory(prefix="mkguest.") as work:
        kernel = os.path.join(rig.CACHE, "vmlinuz")
        initramfs = build_initramfs(root, kernel, work)
        iso = build_iso(env, troot, kernel, initramfs, work)
        img = build_boot_image(env, troot, kernel, initramfs, iso, work)
        shutil.copyfile(img, os.path.join(tmp, "boot.img"))
        shutil.copyfile(iso, os.path.join(tmp, "test.iso"))
    shutil.copyfile(os.path.join(HERE, "datadisk.sh"), os.path.join(tmp, "datadisk.sh"))
    sizes = {f: os.path.getsize(os.path.join(tmp, f)) for f in ["boot.img", "test.iso"]}
    with open(os.path.join(tmp, ".complete"), "w") as f:
        f.write(f"initramfs {len(initramfs)}\n" + "".join(f"{k} {v}\n" for k, v in sizes.items()))
    try:
        os.rename(tmp, out)
    except OSError:
        if not os.path.exists(os.path.join(out, ".complete")):
            raise
        shutil.rmtree(tmp)  # the other build finished first: its images are the same
        return out
    log(f"boot.img {sizes['boot.img'] / 1e6:.1f} MB (initramfs {len(initramfs) / 1e6:.1f} MB), "
        f"test.iso {sizes['test.iso'] / 1e6:.1f} MB")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--output", help="also copy the images into this directory")
    args = ap.parse_args()
    os.makedirs(rig.CACHE, exist_ok=True)
    out = build_images()
    if args.output:
        os.makedirs(args.output, exist_ok=True)
        for f in os.listdir(out):
            shutil.copyfile(os.path.join(out, f), os.path.join(args.output, f))
        out = args.output
    print(out)


if __name__ == "__main__":
    main()
