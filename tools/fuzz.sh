#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ (the parsers that face the outside:
# declaration JSON, HS codes and amounts, registration codes, the JWT path,
# query parameters) for FUZZ_SECONDS each, one after the other, and prints
# runs and executions per second per target. Exits non-zero if any target
# crashes (a panic, an ASan report, a timeout or an out-of-memory); the other
# targets still run.
#
#   tools/fuzz.sh                           # every target, 60 s each
#   FUZZ_SECONDS=600 tools/fuzz.sh hs_code  # one target, 10 minutes
#
# Environment (all optional):
#   FUZZ_SECONDS    fuzzing time per target (default 60)
#   FUZZ_TOOLCHAIN  rustup toolchain with -Zsanitizer (default nightly)
#   FUZZ_ARGS       extra libFuzzer flags, e.g. "-timeout=10 -rss_limit_mb=1024"
#   FUZZ_LOG_DIR    where each target's libFuzzer output goes (default fuzz/artifacts/logs)
#
# Needs a nightly toolchain (rustup toolchain install nightly); installs
# cargo-fuzz from crates.io if it is missing. The first build takes a while
# (every dependency is built with ASan and coverage instrumentation).
#
# Before fuzzing a target, every file in fuzz/regressions/<target>/ (inputs
# that once crashed it, committed) is run once; a crash there fails the run
# too. New interesting inputs go to fuzz/corpus/<target>/ and crashing
# inputs to fuzz/artifacts/<target>/ (both gitignored); the committed seeds
# in fuzz/seeds/<target>/ are read but never written. Reproduce a crash with
#   cargo +nightly fuzz run <target> fuzz/artifacts/<target>/crash-…
set -euo pipefail
shopt -s nullglob
cd "$(dirname "$0")/.."

SECONDS_PER_TARGET=${FUZZ_SECONDS:-60}
TOOLCHAIN=${FUZZ_TOOLCHAIN:-nightly}
LOG_DIR=${FUZZ_LOG_DIR:-fuzz/artifacts/logs}
read -r -a EXTRA <<<"${FUZZ_ARGS:-}"

if ! cargo "+$TOOLCHAIN" fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz not found; installing it (cargo install cargo-fuzz --locked)" >&2
    cargo install cargo-fuzz --locked
fi

if [ "$#" -gt 0 ]; then
    TARGETS=("$@")
else
    mapfile -t TARGETS < <(cargo "+$TOOLCHAIN" fuzz list)
fi
[ "${#TARGETS[@]}" -gt 0 ] || { echo "no fuzz targets found in fuzz/" >&2; exit 2; }

echo "building ${#TARGETS[@]} fuzz target(s) with $TOOLCHAIN" >&2
for t in "${TARGETS[@]}"; do
    cargo "+$TOOLCHAIN" fuzz build "$t"
done

mkdir -p "$LOG_DIR"
failed=()
summary=()
for t in "${TARGETS[@]}"; do
    corpus="fuzz/corpus/$t"
    seeds="fuzz/seeds/$t"
    mkdir -p "$corpus"
    log="$LOG_DIR/$t.log"
    regressions=(fuzz/regressions/"$t"/*)
    if [ "${#regressions[@]}" -gt 0 ]; then
        echo "== $t: replaying ${#regressions[@]} regression input(s)" >&2
        if ! cargo "+$TOOLCHAIN" fuzz run "$t" "${regressions[@]}" >"$LOG_DIR/$t.regressions.log" 2>&1; then
            failed+=("$t(regressions)")
            summary+=("$(printf '%-20s CRASH on a fuzz/regressions/%s input; see %s' "$t" "$t" "$LOG_DIR/$t.regressions.log")")
            grep -E 'panicked at|Running: ' "$LOG_DIR/$t.regressions.log" | tail -n 2 >&2 || true
        fi
    fi
    echo "== $t: ${SECONDS_PER_TARGET}s (log: $log)" >&2
    # The writable corpus comes first: libFuzzer adds new inputs to the first directory only.
    dirs=("$corpus")
    [ -d "$seeds" ] && dirs+=("$seeds")
    status=0
    cargo "+$TOOLCHAIN" fuzz run "$t" "${dirs[@]}" -- \
        -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 "${EXTRA[@]}" >"$log" 2>&1 || status=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1)
    cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -n1 || true)
    if [ "$status" -ne 0 ]; then
        failed+=("$t")
        summary+=("$(printf '%-20s CRASH (exit %s) after %s runs; see %s' "$t" "$status" "${runs:-?}" "$log")")
        grep -E 'panicked at|ERROR: (libFuzzer|AddressSanitizer)|SUMMARY:|Test unit written to' "$log" | head -n 6 >&2 || true
    else
        summary+=("$(printf '%-20s ok  %12s runs  %8s exec/s  %s' "$t" "${runs:-?}" "${rate:-?}" "$cov")")
    fi
done

echo
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "crashed: ${failed[*]}" >&2
    exit 1
fi
