#!/usr/bin/env python3
"""Starts xendm under xensim with the exact argv libxl 4.17 built on real Xen
(tests/fixtures/libxl-argv/*.argv) and checks the outcome: the configs whose devices xendm has
reach `running` in xenstore, answer an ioreq and exit cleanly; the others are refused at once with
the option or device named (exit before any ioreq server exists). Paths libxl chose (QMP sockets
under /var/run/xen, the serial file, disk images) move into a temporary directory, and a tap
-netdev becomes a UDP socket backend with the same id (no tap needs creating). TAP on stdout.

    test-libxl-argv-run.py XENSIM XENDM FIXTURE_DIR
"""
import os
import subprocess
import sys
import tempfile

# fixture -> None (must run) or the message xendm must refuse it with.
EXPECTED = {
    "minimal.argv": None,
    "saved.argv": None,
    "windows.argv": "option -usb is not supported yet",
    "linux.argv": None,
    "nics.argv": None,
}
SCRIPT = "xs_read /local/domain/0/device-model/{domid}/state\ninb 0x3fd\nquit\n"


def load(path):
    with open(path) as f:
        return [ln.rstrip("\n") for ln in f if ln.strip() and not ln.startswith("#")]


def relocate(args, tmp):
    """Moves libxl's paths into tmp; a -drive's image is made there (64 MiB, sparse)."""
    out = []
    for a in args:
        a = a.replace("/var/run/xen/", tmp + "/")
        if a.startswith("file:/"):
            a = "file:" + os.path.join(tmp, os.path.basename(a[5:]))
        if a.startswith("file=/") and out and out[-1] == "-drive":
            path, sep, rest = a[5:].partition(",")
            image = os.path.join(tmp, os.path.basename(path))
            with open(image, "wb") as f:
                f.truncate(64 << 20)
            a = "file=" + image + sep + rest
        if a.startswith("type=tap,") and out and out[-1] == "-netdev":
            netdev_id = dict(kv.split("=", 1) for kv in a.split(",") if "=" in kv)["id"]
            a = f"type=socket,id={netdev_id},udp=127.0.0.1:9,localaddr=127.0.0.1:0"
        out.append(a)
    return out


def run_one(xensim, xendm, path, tmp):
    args = relocate(load(path), tmp)
    domid = args[args.index("-xen-domid") + 1]
    script = os.path.join(tmp, "session.qtest")
    with open(script, "w") as f:
        f.write(SCRIPT.format(domid=domid))
    cmd = [xensim, "--dm", xendm, "--raw-dm-args", "--domid", domid, "--run-dir", tmp,
           "--strict-dm-exit", "--script", script, "--"] + args
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def main():
    xensim, xendm, fixtures = sys.argv[1:4]
    names = sorted(EXPECTED)
    print(f"1..{len(names)}")
    failed = 0
    for i, name in enumerate(names, start=1):
        with tempfile.TemporaryDirectory(prefix="xendm-argv-") as tmp:
            r = run_one(xensim, xendm, os.path.join(fixtures, name), tmp)
        want = EXPECTED[name]
        out = r.stdout + r.stderr
        if want is None:
            ok = r.returncode == 0 and "OK running" in r.stdout
            what = "reaches running, serves COM1, exits cleanly"
        else:
            ok = r.returncode != 0 and want in out and "ioreq server" not in out
            what = f"refused: {want}"
        failed += not ok
        print(f"{'ok' if ok else 'not ok'} {i} - {name}: {what}")
        if not ok:
            print(f"# xensim exit {r.returncode}")
            for line in out.splitlines()[-20:]:
                print("# " + line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
