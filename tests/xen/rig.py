#!/usr/bin/env python3
"""The real-Xen rig: Debian's Xen 4.17, a PV dom0 with xl, booted under QEMU TCG, running HVM guests
whose device model is this tree's xendm (or Debian's qemu-xen, the reference).

    tests/xen/rig.py [--build DIR] run [SCENARIO...] [--dm xendm,qemu-xen] [--tap] [--show-serial]
    tests/xen/rig.py fetch | base | list | shell

What changes between runs (xendm, the test firmware, the scenarios, dom0's init) goes into a small
overlay archive; what does not (the unpacked Debian packages, the dom0 base archive) is cached under
$XENDM_RIG_CACHE (default ~/.cache/xendm-rig), keyed by the package versions and the inputs that
shape it, so a run costs the boot, not the download. The two archives are concatenated into one
initramfs: Linux unpacks concatenated newc archives in order.

Nothing is installed into the host: packages come with `apt-get download` and are unpacked with
`dpkg -x`. The outer QEMU (qemu-system-x86) is the only host package the rig uses at run time.
"""
import argparse
import gzip
import hashlib
import os
import re
import shutil
import stat
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
CACHE = os.environ.get("XENDM_RIG_CACHE",
                       os.path.join(os.path.expanduser("~"), ".cache", "xendm-rig"))
XEN_LIBEXEC = "usr/lib/xen-4.17"

# Debian packages unpacked into the cache. The kernel's name is resolved from linux-image-amd64.
PACKAGES = [
    "xen-hypervisor-4.17-amd64", "xen-utils-4.17", "xen-utils-common", "xenstore-utils",
    "busybox-static",
    "libxenmisc4.17", "libxenstore4", "libxencall1",
    "libxenevtchn1", "libxenforeignmemory1", "libxengnttab1", "libxendevicemodel1",
    "libxentoolcore1", "libxentoollog1", "libxenhypfs1", "libyajl2",
    "qemu-system-xen", "qemu-system-data", "seabios", "gdbserver", "ipxe-qemu",
]
# Programs copied into dom0 with the shared libraries they need (resolved with ldd).
DOM0_PROGRAMS = [
    XEN_LIBEXEC + "/bin/xl", XEN_LIBEXEC + "/bin/xenstored", XEN_LIBEXEC + "/bin/xenconsoled",
    XEN_LIBEXEC + "/bin/xen-init-dom0", XEN_LIBEXEC + "/bin/libxl-save-helper",
    "usr/bin/xenstore", "usr/libexec/xen-qemu-system-i386", "usr/bin/gdbserver",
    # libxl's dom0 end of a Linux stub domain's QMP (it runs /usr/bin/vchan-socket-proxy).
    XEN_LIBEXEC + "/bin/vchan-socket-proxy",
]
DOM0_MODULES = [
    "drivers/xen/xen-evtchn.ko", "drivers/xen/xen-privcmd.ko", "drivers/xen/xenfs/xenfs.ko",
    "drivers/xen/xen-gntdev.ko", "drivers/xen/xen-gntalloc.ko",
    # The guests' networks: the tap a device model opens, the bridge a vif= line names, the
    # PV network backend libxl adds beside every emulated NIC (each after what it depends on).
    "drivers/net/tun.ko", "net/llc/llc.ko", "net/802/stp.ko", "net/bridge/bridge.ko",
    "drivers/net/xen-netback/xen-netback.ko",
]
FIRMWARE_FILES = [
    XEN_LIBEXEC + "/boot/hvmloader", "usr/share/seabios/bios-256k.bin",
    "usr/share/seabios/vgabios-stdvga.bin", "usr/share/seabios/vgabios-cirrus.bin",
    # The NICs' option ROMs (iPXE) the device models put in their ROM BARs.
    "usr/lib/ipxe/qemu/efi-rtl8139.rom", "usr/lib/ipxe/qemu/efi-e1000.rom",
    "usr/lib/ipxe/qemu/efi-virtio.rom",
]
# Bump when the base's layout changes in a way its inputs do not show.
BASE_FORMAT = "3"


def log(msg):
    print("rig: " + msg, file=sys.stderr, flush=True)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


# ---------------------------------------------------------------------------------------------
# Packages


def kernel_package():
    out = subprocess.run(["apt-cache", "depends", "linux-image-amd64"], check=True,
                         capture_output=True, text=True).stdout
    m = re.search(r"Depends:\s+(linux-image-[0-9][^\s]*)", out)
    if not m:
        raise SystemExit("rig: cannot resolve linux-image-amd64 (apt-get update?)")
    return m.group(1)


_apt_lists_refreshed = False


def refresh_apt_lists():
    """Once per run, when a package is unknown: the lists may predate it (a fresh machine)."""
    global _apt_lists_refreshed
    if _apt_lists_refreshed or os.getuid() != 0:
        return False
    _apt_lists_refreshed = True
    log("refreshing the package lists (apt-get update)")
    return subprocess.run(["apt-get", "update", "-q", "-o", "Acquire::Retries=3"],
                          stdout=subprocess.DEVNULL).returncode == 0


def candidate_version(pkg):
    while True:
        out = subprocess.run(["apt-cache", "policy", pkg], capture_output=True, text=True).stdout
        m = re.search(r"Candidate:\s+(\S+)", out)
        if m and m.group(1) != "(none)":
            return m.group(1)
        if not refresh_apt_lists():
            raise SystemExit(f"rig: package {pkg} is not available from apt (apt-get update?)")


def fetch(packages=None, prefix="root"):
    """Downloads and unpacks the packages once per set of versions. Returns the root dir.
    packages (default: the rig's own and the kernel) go into CACHE/PREFIX-<versions key>."""
    pkgs = packages if packages is not None else PACKAGES + [kernel_package()]
    wanted = sorted(f"{p}={candidate_version(p)}" for p in pkgs)
    key = hashlib.sha256("\n".join(wanted).encode()).hexdigest()[:16]
    root = os.path.join(CACHE, prefix + "-" + key)
    if os.path.exists(os.path.join(root, ".complete")):
        return root
    debs = os.path.join(CACHE, "debs")
    os.makedirs(debs, exist_ok=True)
    log(f"downloading {len(wanted)} packages into {debs}")
    sandbox = ["-o", "APT::Sandbox::User=root"] if os.getuid() == 0 else []
    # Mirrors drop connections now and then: apt retries each file before giving up.
    run(["apt-get", "download", "-q", "-o", "Acquire::Retries=3"] + sandbox + wanted, cwd=debs,
        stdout=subprocess.DEVNULL)
    tmp = root + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    for spec in wanted:
        name, ver = spec.split("=", 1)
        deb = [f for f in os.listdir(debs)
               if f.startswith(name + "_") and f.endswith(".deb")
               and f.split("_")[1].replace("%3a", ":") == ver]
        if not deb:
            raise SystemExit(f"rig: {spec} was not downloaded")
        run(["dpkg", "-x", os.path.join(debs, deb[0]), tmp])
    with open(os.path.join(tmp, ".complete"), "w") as f:
        f.write("\n".join(wanted) + "\n")
    shutil.rmtree(root, ignore_errors=True)
    os.rename(tmp, root)
    return root


def kernel_release(root):
    mods = os.listdir(os.path.join(root, "lib", "modules"))
    if len(mods) != 1:
        raise SystemExit(f"rig: expected one kernel in {root}/lib/modules, found {mods}")
    return mods[0]


# ---------------------------------------------------------------------------------------------
# Archives


class Tree:
    """A file tree for a newc archive, built in memory: path -> (mode, data or link target)."""

    def __init__(self):
        self.entries = {}

    def mkdir(self, path):
        parts = path.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            self.entries.setdefault("/".join(parts[:i]), (stat.S_IFDIR | 0o755, b""))

    def add_bytes(self, path, data, mode=0o644):
        path = path.strip("/")
        self.mkdir(os.path.dirname(path)) if "/" in path else None
        self.entries[path] = (stat.S_IFREG | mode, data)

    def add_file(self, path, host_path, mode=None):
        with open(host_path, "rb") as f:
            data = f.read()
        if mode is None:
            mode = os.stat(host_path).st_mode & 0o777
        self.add_bytes(path, data, mode)

    def add_symlink(self, path, target):
        path = path.strip("/")
        self.mkdir(os.path.dirname(path))
        self.entries[path] = (stat.S_IFLNK | 0o777, target.encode())

    def add_tree(self, path, host_dir):
        for dirpath, dirnames, filenames in os.walk(host_dir):
            rel = os.path.relpath(dirpath, host_dir)
            dest = path if rel == "." else os.path.join(path, rel)
            self.mkdir(dest)
            for name in dirnames + filenames:
                hp = os.path.join(dirpath, name)
                if os.path.islink(hp):
                    self.add_symlink(os.path.join(dest, name), os.readlink(hp))
                elif os.path.isfile(hp):
                    self.add_file(os.path.join(dest, name), hp)

    def newc(self):
        """The tree as a gzip-compressed newc (SVR4, no CRC) cpio archive, deterministic."""
        out = bytearray()

        def entry(name, mode, data, ino):
            nameb = name.encode() + b"\0"
            hdr = "070701" + "".join("%08X" % v for v in (
                ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(nameb), 0))
            out.extend(hdr.encode() + nameb)
            out.extend(b"\0" * (-len(out) % 4))
            out.extend(data)
            out.extend(b"\0" * (-len(out) % 4))

        for ino, name in enumerate(sorted(self.entries), start=1):
            mode, data = self.entries[name]
            entry(name, mode, data, ino)
        entry("TRAILER!!!", 0, b"", 0)
        return gzip.compress(bytes(out), compresslevel=1, mtime=0)


LIB_DIRS = ["lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu"]


def add_with_libs(tree, dest, host_path, root, seen):
    """Copies a program and every shared library ldd resolves for it (packaged ones first)."""
    tree.add_file(dest, host_path)
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = ":".join(os.path.join(root, d) for d in LIB_DIRS) if root else ""
    out = subprocess.run(["ldd", host_path], capture_output=True, text=True, env=env).stdout
    for line in out.splitlines():
        m = re.match(r"\s*(\S+) => not found", line)
        if m:
            raise SystemExit(f"rig: {host_path} needs {m.group(1)}, which is not available")
        m = re.match(r"\s*\S+ => (/\S+)", line) or re.match(r"\s*(/\S*ld-linux\S*)", line)
        if not m:
            continue
        lib = m.group(1)
        name = os.path.basename(lib)
        target = "lib64/" + name if "ld-linux" in name else "lib/x86_64-linux-gnu/" + name
        if target not in seen:
            seen.add(target)
            tree.add_file(target, os.path.realpath(lib), 0o755)


def base_inputs_key(root):
    h = hashlib.sha256()
    h.update(BASE_FORMAT.encode())
    h.update(os.path.basename(root).encode())
    h.update(open(os.path.join(SRC, "tests/xen/rig.py"), "rb").read())
    return h.hexdigest()[:16]


def build_base(root):
    """The dom0 base archive: busybox, the Xen toolstack with its libraries, kernel modules,
    firmware, /etc/xen. Cached; rebuilt only when the packages or this script change."""
    path = os.path.join(CACHE, f"dom0-base-{base_inputs_key(root)}.cpio.gz")
    if os.path.exists(path):
        return path
    log("building the dom0 base archive")
    t = Tree()
    for d in ["bin", "sbin", "proc", "sys", "dev", "tmp", "etc", "run", "root", "var/lib/xen",
              "var/lib/xenstored", "var/log/xen", "usr/sbin", "usr/bin", "lib64"]:
        t.mkdir(d)
    t.add_symlink("var/run", "../run")
    t.add_file("bin/busybox", os.path.join(root, "bin/busybox"), 0o755)
    seen = set()
    for prog in DOM0_PROGRAMS:
        add_with_libs(t, prog, os.path.join(root, prog), root, seen)
    for n in ["read", "write", "ls", "list", "rm", "exists", "chmod", "watch"]:
        t.add_symlink(f"usr/bin/xenstore-{n}", "xenstore")
    t.add_symlink("usr/sbin/xl", "../lib/xen-4.17/bin/xl")
    t.add_symlink("usr/bin/vchan-socket-proxy", "../lib/xen-4.17/bin/vchan-socket-proxy")
    for fw in FIRMWARE_FILES:
        t.add_file(fw, os.path.join(root, fw))
    t.add_tree("etc/xen", os.path.join(root, "etc/xen"))
    # The reference device model wants its keymaps even with -vnc none.
    t.add_tree("usr/share/qemu/keymaps", os.path.join(root, "usr/share/qemu/keymaps"))
    # ... and its NIC option ROMs where qemu-system-data links them from.
    for rom in ["efi-rtl8139.rom", "efi-e1000.rom", "efi-virtio.rom"]:
        t.add_symlink("usr/share/qemu/" + rom, "../../lib/ipxe/qemu/" + rom)
    kver = kernel_release(root)
    for mod in DOM0_MODULES:
        t.add_file("lib/modules/" + os.path.basename(mod),
                   os.path.join(root, "lib/modules", kver, "kernel", mod))
    # dm_restrict runs the device model as xen-qemuuser-range-base + domid (libxl 4.17).
    t.add_bytes("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n"
                b"xen-qemuuser-range-base:x:131072:131072::/nonexistent:/bin/false\n")
    t.add_bytes("etc/group", b"root:x:0:\nxen-qemuuser-range-base:x:131072:\n")
    data = t.newc()
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.rename(path + ".tmp", path)
    log(f"dom0 base: {len(data) / 1e6:.1f} MB")
    return path


def build_overlay(builddir, root, scenarios):
    """What changes between runs: dom0's init and library, the scenarios, xendm and the test
    firmware from the build directory."""
    t = Tree()
    t.add_file("init", os.path.join(HERE, "dom0", "init"), 0o755)
    t.add_file("rig/lib.sh", os.path.join(HERE, "dom0", "lib.sh"), 0o644)
    t.add_file("rig/bin/argv-recorder", os.path.join(HERE, "dom0", "argv-recorder"), 0o755)
    t.add_file("rig/bin/xendm-gdb", os.path.join(SRC, "scripts", "xendm-gdb"), 0o755)
    t.add_file("rig/bin/local-ssh", os.path.join(HERE, "dom0", "local-ssh"), 0o755)
    t.add_file("rig/bin/vif-rig", os.path.join(HERE, "dom0", "vif-rig"), 0o755)
    t.add_file("rig/nic-guest.sh", os.path.join(HERE, "dom0", "nic-guest.sh"), 0o644)
    for name, path in scenarios:
        t.add_file(f"rig/scenarios/{name}.sh", path, 0o644)
    xendm = os.path.join(builddir, "xendm")
    if not os.path.exists(xendm):
        raise SystemExit(f"rig: {xendm} is missing: build first (make build)")
    seen = set()
    add_with_libs(t, "rig/bin/xendm", xendm, None, seen)
    screen_text = os.path.join(builddir, "tests", "xen", "screen-text")
    if os.path.exists(screen_text):
        add_with_libs(t, "rig/bin/screen-text", screen_text, None, seen)
    if any(name.startswith("stubdom") for name, _ in scenarios):
        add_stubdom(t, builddir, root)
    if any(name.startswith(("ide-", "cd-")) for name, _ in scenarios):
        add_guest(t, root)
    if any(name.startswith(("virtio-", "nic-", "vga-")) for name, _ in scenarios):
        add_virtio_guest(t, root)
    fwdir = os.path.join(builddir, "tests", "xen", "firmware")
    for fw in sorted(os.listdir(fwdir)) if os.path.isdir(fwdir) else []:
        if fw.endswith(".elf"):
            t.add_file("rig/firmware/" + fw, os.path.join(fwdir, fw), 0o644)
    return t.newc()


def add_stubdom(tree, builddir, root):
    """xendm's Linux stub domain for the stubdom scenarios: Debian's kernel (the one dom0 runs,
    a PV-capable kernel) and the rootfs of tests/xen/stubdom/mkrootfs.py with a static xendm."""
    sys.dont_write_bytecode = True  # no __pycache__ in the source tree
    sys.path.insert(0, os.path.join(HERE, "stubdom"))
    import mkrootfs
    rootfs = mkrootfs.build_rootfs(builddir, root)
    log(f"stub domain rootfs: {len(rootfs) / 1e6:.1f} MB")
    tree.add_bytes("rig/stubdom/rootfs.cpio.gz", rootfs)
    tree.add_file("rig/stubdom/vmlinuz", os.path.join(CACHE, "vmlinuz"), 0o644)


def add_guest(tree, root):
    """The IDE guest for the ide-* scenarios (tests/xen/guest/mkguest.py): its boot disk, its
    CD image and the data disk's helpers, in /rig/guest. Built once per set of inputs."""
    sys.dont_write_bytecode = True
    sys.path.insert(0, os.path.join(HERE, "guest"))
    import mkguest
    images = mkguest.build_images(root)
    for name in ["boot.img", "test.iso", "datadisk.sh"]:
        tree.add_file("rig/guest/" + name, os.path.join(images, name), 0o644)


def add_virtio_guest(tree, root):
    """The virtio guest for the virtio-* scenarios (tests/xen/guest/mkvirtio.py): its boot disk
    and dom0's tun module, in /rig/virtio. Built once per set of inputs."""
    sys.dont_write_bytecode = True
    sys.path.insert(0, os.path.join(HERE, "guest"))
    import mkvirtio
    for dest, path in mkvirtio.rig_files(root).items():
        tree.add_file(dest, path, 0o644)


# ---------------------------------------------------------------------------------------------
# Scenarios and the boot


def all_scenarios():
    d = os.path.join(HERE, "scenarios")
    return sorted((f[:-3], os.path.join(d, f)) for f in os.listdir(d) if f.endswith(".sh"))


def select_scenarios(names):
    every = all_scenarios()
    if not names:
        return [s for s in every if not s[0].startswith(("demo", "tool-", "bench-", "stubdom"))]
    by_name = dict(every)
    missing = [n for n in names if n not in by_name]
    if missing:
        raise SystemExit(f"rig: no such scenario: {', '.join(missing)} "
                         f"(have: {', '.join(n for n, _ in every)})")
    return [(n, by_name[n]) for n in names]


def qemu_binary():
    q = shutil.which("qemu-system-x86_64")
    if not q:
        raise SystemExit("rig: qemu-system-x86_64 is missing (scripts/install-deps.sh installs it)")
    return q


class Report:
    """Collects the @@XR lines dom0 prints and turns them into results."""

    def __init__(self, tap, show_serial):
        self.tap = tap
        self.show_serial = show_serial
        self.results = []     # (scenario, dm, ok, seconds, steps, logs)
        self.current = None
        self.in_log = None
        self.marks = {}

    def line(self, t, text):
        i = text.find("@@XR ")
        if i < 0:
            if self.in_log is not None:
                self.in_log.append(text)
            return
        fields = text[i + 5:].rstrip("\r").split(" ", 3)
        kind = fields[0]
        if kind == "mark":
            self.marks[fields[1]] = t
            log(f"[{t:6.1f}s] {fields[1]}")
        elif kind == "begin":
            self.current = {"scenario": fields[1], "dm": fields[2], "steps": [], "logs": []}
        elif kind == "step" and self.current:
            self.current["steps"].append(" ".join(fields[1:]))
        elif kind == "note":
            print(("# " if self.tap else "dom0| ") + text[i + 5 + len("note "):], flush=True)
        elif kind == "serial" and self.show_serial:
            print("guest| " + text[i + 5 + len("serial "):], flush=True)
        elif kind == "log-begin" and self.current:
            self.in_log = [f"----- {' '.join(fields[1:])}"]
        elif kind == "log-end" and self.in_log is not None:
            self.current["logs"].extend(self.in_log)
            self.in_log = None
        elif kind == "end" and self.current:
            c = self.current
            c["ok"] = fields[3].startswith("pass") if len(fields) > 3 else False
            c["skip"] = fields[3].startswith("skip") if len(fields) > 3 else False
            c["seconds"] = float(fields[3].split()[1]) if len(fields) > 3 and \
                len(fields[3].split()) > 1 else 0.0
            self.results.append(c)
            self.current = None
            status = "PASS" if c["ok"] else "SKIP" if c["skip"] else "FAIL"
            log(f"[{t:6.1f}s] {status} {c['scenario']} ({c['dm']}) {c['seconds']:.1f}s")


# Xen, dom0 and the toolstack come up in about 11 s under TCG on 2 cores: a run that has not
# reached that point by this bound is stuck (a Xen panic that printed nothing, say).
TOOLSTACK_UP_BOUND = 180


def scenario_timeout(path):
    for line in open(path):
        m = re.match(r"# timeout:\s*(\d+)", line)
        if m:
            return int(m.group(1))
    return 120


def boot(initrd, report, timeout, dom0_args, console_log):
    xen_args = "console=com1 com1=115200 dom0_mem=1024M dom0_max_vcpus=1 noreboot smap=0 " \
               "loglvl=warning guest_loglvl=all"
    kernel_args = f"console=hvc0 earlyprintk=xen rdinit=/init quiet loglevel=4 {dom0_args}"
    cmd = [qemu_binary(), "-accel", "tcg", "-cpu", "max", "-m", "3G", "-smp", "2",
           "-nographic", "-serial", "stdio", "-monitor", "none", "-no-reboot", "-nic", "none",
           "-kernel", os.path.join(CACHE, "xen"), "-append", xen_args,
           "-initrd", f"{os.path.join(CACHE, 'vmlinuz')} {kernel_args},{initrd}"]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    finished = False
    fatal = None
    import selectors
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    buf = b""
    with open(console_log, "w") as clog:
        while True:
            now = time.monotonic() - start
            left = timeout - now
            if left <= 0:
                fatal = f"timed out after {timeout:.0f} s"
                break
            if now > TOOLSTACK_UP_BOUND and "toolstack-up" not in report.marks:
                fatal = f"Xen, dom0 and the toolstack were not up after {TOOLSTACK_UP_BOUND} s"
                break
            if not sel.select(min(left, 1.0)):
                if proc.poll() is not None:
                    break
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for raw in lines:
                text = raw.decode("utf-8", "replace").rstrip("\r")
                t = time.monotonic() - start
                clog.write(f"[{t:7.2f}] {text}\n")
                report.line(t, text)
                if "@@XR alldone" in text:
                    finished = True
                if re.search(r"Panic on CPU|Dom0 crashed|Kernel panic", text):
                    fatal = "crash: " + text.strip()
            if finished or fatal:
                break
    if proc.poll() is None:
        try:
            proc.wait(timeout=10 if finished else 0.1)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return time.monotonic() - start, finished, fatal


def prepare_kernel_images(root):
    xen = os.path.join(CACHE, "xen")
    vmlinuz = os.path.join(CACHE, "vmlinuz")
    kver = kernel_release(root)
    stamp = os.path.join(CACHE, "images.stamp")
    want = os.path.basename(root) + " " + kver
    if os.path.exists(stamp) and open(stamp).read() == want:
        return
    # QEMU's -kernel takes Xen's 32-bit multiboot ELF, not the gzip Debian ships.
    xen_gz = [f for f in os.listdir(os.path.join(root, "boot")) if re.match(r"xen-4\.17.*\.gz$", f)]
    with gzip.open(os.path.join(root, "boot", xen_gz[0]), "rb") as src, open(xen, "wb") as dst:
        shutil.copyfileobj(src, dst)
    shutil.copyfile(os.path.join(root, "boot", "vmlinuz-" + kver), vmlinuz)
    with open(stamp, "w") as f:
        f.write(want)


def cmd_run(args):
    scenarios = select_scenarios(args.scenarios)
    root = fetch()
    prepare_kernel_images(root)
    base = build_base(root)
    overlay = build_overlay(args.build, root, scenarios)
    outdir = os.path.abspath(args.out)
    os.makedirs(outdir, exist_ok=True)
    initrd = os.path.join(outdir, "initrd.gz")
    with open(initrd, "wb") as f:
        f.write(open(base, "rb").read())
        f.write(overlay)
    dms = args.dm.split(",")
    dom0_args = f"xrig.scenarios={':'.join(n for n, _ in scenarios)} xrig.dms={':'.join(dms)}"
    if args.show_serial:
        dom0_args += " xrig.show_serial=1"
    if args.scenarios:
        # Scenarios named on the command line: those too slow for the default run with every
        # device model (ide-boot with qemu-xen) run in full.
        dom0_args += " xrig.named=1"
    # dom0 bounds each scenario itself; this bound catches a dom0 that stopped answering.
    timeout = args.timeout or TOOLSTACK_UP_BOUND + len(dms) * sum(
        scenario_timeout(p) + 30 for _, p in scenarios)
    report = Report(args.tap, args.show_serial)
    console_log = os.path.join(outdir, "console.log")
    log(f"booting Xen + dom0 under QEMU TCG: {len(scenarios)} scenario(s) x {len(dms)} device "
        f"model(s); console in {console_log}")
    elapsed, finished, fatal = boot(initrd, report, timeout, dom0_args, console_log)
    return summarize(report, scenarios, dms, elapsed, finished, fatal, args, console_log)


def create_seconds(result):
    for step in result["steps"] if result else []:
        m = re.search(r"xl create.*took ([0-9.]+) s", step)
        if m:
            return float(m.group(1))
    return None


def print_comparison(scenarios, dms, by_key):
    """Side by side: each scenario's time and its `xl create` time, per device model."""
    print("\n" + f"{'scenario':<24}" + "".join(f"{dm + ' total':>16}{'xl create':>11}"
                                            for dm in dms))
    for name, _ in scenarios:
        row = f"{name:<24}"
        for dm in dms:
            r = by_key.get((name, dm))
            total = "skipped" if r and r["skip"] else f"{r['seconds']:.1f} s" if r else "-"
            c = create_seconds(r)
            created = f"{c:.1f} s" if c is not None else "-"
            row += f"{total:>16}{created:>11}"
        print(row)
    print()


def summarize(report, scenarios, dms, elapsed, finished, fatal, args, console_log):
    expected = [(n, dm) for n, _ in scenarios for dm in dms]
    by_key = {(r["scenario"], r["dm"]): r for r in report.results}
    failed = 0
    if args.tap:
        print(f"1..{len(expected)}")
    for i, (name, dm) in enumerate(expected, start=1):
        r = by_key.get((name, dm))
        skipped = bool(r and r["skip"])
        ok = bool(r and (r["ok"] or skipped))
        failed += not ok
        secs = f"{r['seconds']:.1f}s" if r else "not run"
        if args.tap:
            reason = next((st[5:] for st in r["steps"] if st.startswith("skip ")), "") if r else ""
            print(f"{'ok' if ok else 'not ok'} {i} - {name} ({dm}) {secs}"
                  + (f" # SKIP {reason}" if skipped else ""))
            for s in (r["steps"] if r else []):
                print(f"# {s}")
            if r and not ok:
                for line in r["logs"]:
                    print("# " + line)
        else:
            label = "SKIP" if skipped else "PASS" if ok else "FAIL"
            print(f"{label}  {name:<24} {dm:<9} {secs}")
            if r and not ok:
                for s in r["steps"]:
                    print("    " + s)
                for line in r["logs"]:
                    print("    | " + line)
    if len(dms) > 1 and not args.tap:
        print_comparison(scenarios, dms, by_key)
    marks = report.marks
    boot_s = marks.get("toolstack-up")
    summary = (f"rig: {len(expected) - failed}/{len(expected)} passed; total {elapsed:.0f} s"
               + (f", Xen+dom0+toolstack up at {boot_s:.0f} s" if boot_s else ""))
    if fatal or not finished:
        summary += f"; the run did not finish: {fatal or 'QEMU exited early'} (see {console_log})"
        failed += 1
        if not args.tap:
            with open(console_log) as f:
                tail = f.readlines()[-60:]
            print("----- last console lines -----\n" + "".join(tail))
    print(("# " if args.tap else "") + summary, flush=True)
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(SRC, "build"),
                    help="build directory holding xendm (default: build)")
    ap.add_argument("--out", default=None, help="where logs go (default: BUILD/rig)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="boot the rig and run scenarios")
    r.add_argument("scenarios", nargs="*")
    r.add_argument("--dm", default="xendm,qemu-xen",
                   help="device models to run each scenario with (default both)")
    r.add_argument("--tap", action="store_true", help="print TAP")
    r.add_argument("--show-serial", action="store_true", help="echo the guests' serial output")
    r.add_argument("--timeout", type=float, default=0,
                   help="bound on the whole run in seconds (default: from the scenarios' bounds)")
    sub.add_parser("fetch", help="download and unpack the packages")
    sub.add_parser("base", help="build the dom0 base archive")
    sub.add_parser("list", help="list the scenarios")
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)
    if args.out is None:
        args.out = os.path.join(args.build, "rig")
    os.makedirs(CACHE, exist_ok=True)
    if args.cmd == "fetch":
        print(fetch())
    elif args.cmd == "base":
        root = fetch()
        prepare_kernel_images(root)
        print(build_base(root))
    elif args.cmd == "list":
        for name, path in all_scenarios():
            first = next((ln[2:].strip() for ln in open(path) if ln.startswith("# ")), "")
            print(f"{name:<24} {first}")
    elif args.cmd == "run":
        sys.exit(cmd_run(args))


if __name__ == "__main__":
    main()
