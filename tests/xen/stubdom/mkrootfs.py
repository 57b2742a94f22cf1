#!/usr/bin/env python3
"""The root file system of xendm's Linux stub domain, as a gzip-compressed newc cpio archive.

    tests/xen/stubdom/mkrootfs.py --build BUILD -o rootfs.cpio.gz

Contents: busybox (static), a static xendm (built here in BUILD/stubdom-static with
-Dstatic=true unless $XENDM_STATIC names one), Debian's xenstore client and vchan-socket-proxy
with their shared libraries, the Xen kernel modules the stub domain needs (they match the rig's
kernel, which is also the stub domain's kernel) and /init (tests/xen/stubdom/init).
The Debian packages come from the rig's cache (tests/xen/rig.py fetch).
"""
import argparse
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(HERE))
import rig  # noqa: E402  (the rig's archive builder and package cache)

# Loaded by /init, in this order (dependencies first); hvc_xen and xenbus are built in.
MODULES = [
    "drivers/xen/xen-evtchn.ko", "drivers/xen/xen-privcmd.ko", "drivers/xen/xenfs/xenfs.ko",
    "drivers/xen/xen-gntdev.ko", "drivers/xen/xen-gntalloc.ko",
]
# Debian's /usr/bin names are wrapper scripts; the real programs live in Xen's libexec dir.
PROGRAMS = {
    "usr/bin/xenstore": "usr/bin/xenstore",
    "usr/bin/vchan-socket-proxy": rig.XEN_LIBEXEC + "/bin/vchan-socket-proxy",
}


def log(msg):
    print("stubdom: " + msg, file=sys.stderr, flush=True)


def static_xendm(builddir):
    """A stripped static xendm: $XENDM_STATIC, or built (incrementally) in BUILD/stubdom-static."""
    given = os.environ.get("XENDM_STATIC")
    if given:
        binary = given
    else:
        sdir = os.path.join(builddir, "stubdom-static")
        if not os.path.exists(os.path.join(sdir, "build.ninja")):
            log(f"configuring a static xendm in {sdir}")
            rig.run(["meson", "setup", sdir, rig.SRC, "-Dstatic=true", "-Dbuildtype=release"],
                    stdout=subprocess.DEVNULL)
        rig.run(["ninja", "-C", sdir, "xendm"], stdout=subprocess.DEVNULL)
        binary = os.path.join(sdir, "xendm")
    out = os.path.join(builddir, "stubdom-xendm")
    rig.run(["strip", "-o", out, binary])
    return out


def build_rootfs(builddir, root):
    """The archive's bytes. root: the unpacked Debian packages (rig.fetch())."""
    t = rig.Tree()
    for d in ["bin", "usr/bin", "proc", "sys", "dev", "run", "tmp", "lib64", "lib/modules"]:
        t.mkdir(d)
    t.add_file("init", os.path.join(HERE, "init"), 0o755)
    t.add_file("bin/busybox", os.path.join(root, "bin/busybox"), 0o755)
    t.add_file("bin/xendm", static_xendm(builddir), 0o755)
    seen = set()
    for dest, src in PROGRAMS.items():
        rig.add_with_libs(t, dest, os.path.join(root, src), root, seen)
    for n in ["read", "write", "list", "ls", "exists", "rm"]:
        t.add_symlink(f"usr/bin/xenstore-{n}", "xenstore")
    kver = rig.kernel_release(root)
    for mod in MODULES:
        t.add_file("lib/modules/" + os.path.basename(mod),
                   os.path.join(root, "lib/modules", kver, "kernel", mod))
    return t.newc()


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(rig.SRC, "build"))
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args()
    os.makedirs(rig.CACHE, exist_ok=True)
    data = build_rootfs(os.path.abspath(args.build), rig.fetch())
    with open(args.output + ".tmp", "wb") as f:
        f.write(data)
    shutil.move(args.output + ".tmp", args.output)
    log(f"{args.output}: {len(data)} bytes")


if __name__ == "__main__":
    main()
