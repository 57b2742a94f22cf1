#!/usr/bin/env python3
"""make bench, real-Xen part: the rig's bench-roundtrips scenario boots the same guest with xendm
and with qemu-xen alternately (A B A B A B, one boot of Xen), and its test firmware times port
and MMIO round trips through the device model with the TSC. This prints medians, spread and
the ratio against qemu-xen, and writes the raw samples as JSON. It prints; it never fails a
build (a rig that cannot run is reported and skipped).

    tests/bench/bench-rig.py BUILDDIR [JSON_OUT]
"""
import json
import os
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RIG = os.path.join(HERE, "..", "xen", "rig.py")
LINE = re.compile(r"BENCH dm=(\S+) round=(\d+) create_s=([\d.]+) (.*)$")
SUBJECTS = ("xendm", "qemu-xen")


def tsc64(text):
    hi, lo = text.split(":")
    return int(hi, 16) << 32 | int(lo, 16)


def sample(fields):
    """One guest's figures: ns per PIO and per MMIO round trip, from the TSC counts."""
    kv = dict(f.split("=", 1) for f in fields.split())
    tsc_per_ns = tsc64(kv["calib_tsc"]) / (int(kv["calib_ms"]) * 1e6)
    return {
        "pio_ns": tsc64(kv["pio_tsc"]) / tsc_per_ns / int(kv["pio_n"]),
        "mmio_ns": tsc64(kv["mmio_tsc"]) / tsc_per_ns / int(kv["mmio_n"]),
    }


def run_rig(builddir):
    cmd = [sys.executable, RIG, "--build", builddir, "run", "bench-roundtrips", "--dm", "xendm"]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    samples = {s: [] for s in SUBJECTS}
    for line in proc.stdout.splitlines():
        m = LINE.search(line)
        if m and m.group(1) in samples:
            try:
                figures = sample(m.group(4))
            except (KeyError, ValueError):
                print(f"bench-rig: a malformed BENCH line skipped: {line}")
                continue
            figures["create_ms"] = float(m.group(3)) * 1000
            figures["round"] = int(m.group(2))
            samples[m.group(1)].append(figures)
    return proc.returncode, proc.stdout, samples


def spread(values):
    return f"{statistics.median(values):9.1f} ({min(values):.1f}..{max(values):.1f})"


def main(argv):
    builddir = argv[1] if len(argv) > 1 else "build"
    out = argv[2] if len(argv) > 2 else os.path.join(builddir, "bench-rig.json")
    rc, text, samples = run_rig(builddir)
    if not all(samples[s] for s in SUBJECTS):
        print("real Xen (rig): no figures; the rig run said:")
        print("\n".join("  " + ln for ln in text.splitlines()[-15:]))
        return 0
    print(f"\nreal Xen (rig, nested under QEMU TCG): {len(samples['xendm'])} rounds, "
          "xendm and qemu-xen alternately in one boot; median (min..max)")
    print(f"{'figure':34} {'xendm':>24} {'qemu-xen':>24} {'qemu-xen/xendm':>15}")
    for key, label in (("pio_ns", "PIO round trip, ns (guest TSC)"),
                       ("mmio_ns", "MMIO round trip, ns (guest TSC)"),
                       ("create_ms", "xl create, ms")):
        ours = [s[key] for s in samples["xendm"]]
        theirs = [s[key] for s in samples["qemu-xen"]]
        ratio = statistics.median(theirs) / statistics.median(ours)
        print(f"{label:34} {spread(ours):>24} {spread(theirs):>24} {ratio:14.2f}x")
    with open(out, "w") as f:
        json.dump({"rig": samples}, f, indent=1)
    print(f"raw samples: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
