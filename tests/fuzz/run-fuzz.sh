#!/bin/sh
# Runs xendm's libFuzzer targets (docs/security.md, "Fuzzing").
#
#   run-fuzz.sh setup BUILDDIR            configure BUILDDIR for fuzzing (clang, ASan, UBSan,
#                                         libFuzzer coverage in every library)
#   run-fuzz.sh all BUILDDIR [SECONDS]    build the targets and fuzz each for SECONDS (default
#                                         $FUZZ_SECONDS, else 60); new inputs are kept in
#                                         BUILDDIR/fuzz-corpus/NAME, crashes in
#                                         BUILDDIR/fuzz-artifacts/
#   run-fuzz.sh ci EXE CORPUS SECONDS     (meson test, TAP) replay CORPUS, then fuzz SECONDS
#   run-fuzz.sh skip REASON               (meson test, TAP) a skip
#
# A crash is kept as a file that reproduces it: `EXE FILE` (FUZZ_VERBOSE=1 shows xendm's log).
set -eu

srcdir=$(cd "$(dirname "$0")/../.." && pwd)
targets="ioreq vmstate qmp options ide mmc virtqueue"
# Per-input limits: a hang or a runaway allocation is a finding too.
libfuzzer_limits="-timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512"

# Debian's clang-14 package installs clang-14; the unversioned name comes with "clang".
fuzz_cc() {
    if [ -n "${CC_FUZZ:-}" ]; then echo "$CC_FUZZ"
    elif command -v clang >/dev/null 2>&1; then echo clang
    else echo clang-14
    fi
}

setup() {
    builddir=$1
    CC=$(fuzz_cc) meson setup "$builddir" "$srcdir" \
        -Dfuzzing=true -Dbuildtype=debugoptimized \
        -Db_sanitize=address,undefined -Db_lundef=false \
        -Dc_args='-fsanitize=fuzzer-no-link -fno-omit-frame-pointer -fno-sanitize-recover=all' \
        -Dc_link_args=-fno-sanitize-recover=all
}

# TAP for meson: 1 replay of the checked-in corpus, 2 a short fuzzing run.
ci() {
    exe=$1 corpus=$2 seconds=$3
    name=$(basename "$exe")
    work=$(mktemp -d "${TMPDIR:-/tmp}/$name.XXXXXX")
    artifacts=${FUZZ_ARTIFACTS:-$PWD/fuzz-artifacts}
    mkdir -p "$artifacts"
    trap 'rm -rf "$work"' EXIT
    echo "1..2"
    seeds=$(find "$corpus" -type f 2>/dev/null | wc -l)
    # shellcheck disable=SC2086
    if "$exe" $libfuzzer_limits -runs=0 "$corpus" >"$work/replay.log" 2>&1; then
        echo "ok 1 - $name replays its $seeds seeds"
    else
        echo "not ok 1 - $name: a seed fails"
        sed 's/^/# /' "$work/replay.log" | tail -n 60
    fi
    mkdir -p "$work/corpus"
    # shellcheck disable=SC2086
    if "$exe" $libfuzzer_limits -max_total_time="$seconds" -print_final_stats=1 \
        -artifact_prefix="$artifacts/$name-" "$work/corpus" "$corpus" >"$work/fuzz.log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/fuzz.log")
        echo "ok 2 - $name fuzzed ${seconds}s (${runs:-?} runs)"
    else
        echo "not ok 2 - $name found a crash (kept in $artifacts)"
        sed 's/^/# /' "$work/fuzz.log" | tail -n 80
    fi
}

all() {
    builddir=$1 seconds=${2:-${FUZZ_SECONDS:-60}}
    [ -f "$builddir/build.ninja" ] || setup "$builddir"
    exes=""
    for t in $targets; do exes="$exes tests/fuzz/fuzz-$t"; done
    # shellcheck disable=SC2086
    ninja -C "$builddir" $exes
    mkdir -p "$builddir/fuzz-artifacts"
    status=0
    for t in $targets; do
        corpus="$builddir/fuzz-corpus/$t"
        mkdir -p "$corpus"
        echo "=== fuzz-$t for ${seconds}s (new inputs: $corpus)"
        # shellcheck disable=SC2086
        if ! "$builddir/tests/fuzz/fuzz-$t" $libfuzzer_limits -max_total_time="$seconds" \
            -print_final_stats=1 -artifact_prefix="$builddir/fuzz-artifacts/fuzz-$t-" \
            "$corpus" "$srcdir/tests/fuzz/corpus/$t" 2>"$builddir/fuzz-$t.log"; then
            echo "fuzz-$t: FAILED (log: $builddir/fuzz-$t.log)"
            tail -n 40 "$builddir/fuzz-$t.log"
            status=1
        else
            grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+.*DONE)' \
                "$builddir/fuzz-$t.log" || true
        fi
    done
    return $status
}

case "${1:-}" in
setup) setup "$2" ;;
all) shift; all "$@" ;;
ci) shift; ci "$@" ;;
skip) echo "1..0 # SKIP $2" ;;
*) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
