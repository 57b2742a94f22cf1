#!/usr/bin/env python3
"""Runs the meson test suites of one or more build directories and prints one
closing line `N passed, N failed[, N skipped]`, counting TAP test points (a
test program that is not TAP counts as one point).

    scripts/run-tests.py BUILDDIR[:SUITE] [BUILDDIR[:SUITE]...] [-- extra meson test args]

BUILDDIR:SUITE runs only that suite of an already built directory (--no-rebuild): the
fuzzing directory, whose make target builds just the fuzz targets.
"""
import json
import os
import re
import subprocess
import sys

TAP_LINE = re.compile(r'^(not ok|ok)\b(.*)$')


def point_kind(line):
    """'pass', 'fail' or 'skip' for a TAP test point, None for any other line."""
    m = TAP_LINE.match(line.strip())
    if not m:
        return None
    rest = m.group(2).upper()
    if '# SKIP' in rest:
        return 'skip'
    return 'pass' if m.group(1) == 'ok' or '# TODO' in rest else 'fail'


def count_points(entry):
    """(passed, failed, skipped) for one test of testlog.json."""
    result = entry.get('result', 'FAIL')
    out = entry.get('stdout') or ''
    passed = failed = skipped = 0
    saw_tap = False
    for line in out.splitlines():
        kind = point_kind(line)
        if kind is None:
            continue
        saw_tap = True
        if kind == 'skip':
            skipped += 1
        elif kind == 'pass':
            passed += 1
        else:
            failed += 1
    if not saw_tap:
        if result == 'SKIP':
            return 0, 0, 1
        return (1, 0, 0) if result in ('OK', 'EXPECTEDFAIL') else (0, 1, 0)
    # A program that crashed or timed out after some points fails once more.
    if result not in ('OK', 'SKIP', 'EXPECTEDFAIL') and failed == 0:
        failed += 1
    return passed, failed, skipped


def failure_details(entry, limit=12):
    """The lines of one failing test worth repeating at the end of the run: each
    `not ok` point with, from the diagnostics under it, the lines that say what failed
    (a FAIL step, an error) and the last few, or else the tail of its output."""
    out = (entry.get('stdout') or '').splitlines()
    picked = []
    for i, line in enumerate(out):
        if point_kind(line) != 'fail':
            continue
        picked.append(line)
        diag = []
        for follow in out[i + 1:]:
            if not follow.startswith('#'):
                break
            diag.append(follow)
        telling = [d for d in diag if re.search(r'FAIL|[Ee]rror|not within|Assertion', d)]
        keep = set(telling[:limit // 2]) | set(diag[-(limit // 2):])
        picked.extend(d for d in diag if d in keep)
    if not picked:
        picked = out[-limit:] + (entry.get('stderr') or '').splitlines()[-limit:]
    return picked[:limit * 3]


def main(argv):
    if '--' in argv:
        i = argv.index('--')
        dirs, extra = argv[:i], argv[i + 1:]
    else:
        dirs, extra = argv, []
    if not dirs:
        print(__doc__, file=sys.stderr)
        return 2
    totals = [0, 0, 0]
    failures = []
    for spec in dirs:
        d, _, suite = spec.partition(':')
        label = os.path.basename(os.path.normpath(d))
        only = ['--no-rebuild', '--suite', suite] if suite else []
        print(f'=== meson test in {d}' + (f' (suite {suite})' if suite else ''), flush=True)
        rc = subprocess.call(['meson', 'test', '-C', d, '--print-errorlogs',
                              '--num-processes', os.environ.get('TEST_JOBS', '2')] + only +
                             extra)
        log = os.path.join(d, 'meson-logs', 'testlog.json')
        seen = 0
        dir_failed = 0
        if os.path.exists(log):
            with open(log) as f:
                for line in f:
                    line = line.strip()
                    if not line:
                        continue
                    entry = json.loads(line)
                    seen += 1
                    p, fl, s = count_points(entry)
                    totals[0] += p
                    totals[1] += fl
                    dir_failed += fl
                    totals[2] += s
                    if fl:
                        print(f'{label}: FAILED {entry.get("name")}', flush=True)
                        failures.append((label, entry))
        if seen == 0 or (rc != 0 and dir_failed == 0):
            # meson itself failed (build error, no tests): count it.
            totals[1] += 1
            print(f'{label}: meson test exited {rc} with no failing test recorded')
    # CI shows only the end of the log: repeat what failed where it will be seen.
    for label, entry in failures:
        print(f'--- FAILED {label}: {entry.get("name")} ({entry.get("result")})')
        for detail in failure_details(entry):
            print(f'    {detail}')
    line = f'{totals[0]} passed, {totals[1]} failed'
    if totals[2]:
        line += f', {totals[2]} skipped'
    print(line)
    return 0 if totals[1] == 0 else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
