#!/usr/bin/env bash
# Prints one comparison table of coderunner's costs, measured in one run on this machine:
# sandbox overhead on print(1) four ways, throughput at concurrency 2, peak RSS during a 2 GB
# output flood, teardown after a deadline, and the chat pipeline's own overhead.
# Needs root (the sandbox's root mode) and apt (for bubblewrap). Usage: scripts/bench.sh
# Environment: BENCH_RUNS (samples per latency row, default 50), BENCH_THROUGHPUT (default 200).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${BENCH_RUNS:-50}
TP=${BENCH_THROUGHPUT:-200}
PY=/usr/bin/python3

log() { printf '» %s\n' "$*" >&2; }

if ! command -v bwrap >/dev/null; then
    log "installing bubblewrap (apt)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null
fi
[ -x /usr/bin/time ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null

log "building release binaries"
cargo build --release -q -p coderunner -p coderunner-runner --bins
DRIVER=$(cargo bench -q -p coderunner-commands --bench driver --no-run --message-format=json 2>/dev/null |
    python3 -c 'import json,sys
for l in sys.stdin:
    m=json.loads(l)
    if m.get("reason")=="compiler-artifact" and m["target"]["name"]=="driver" and m.get("executable"): print(m["executable"])' | tail -1)
BIN=target/release/coderunner
HELPER=$(pwd)/target/release/coderunner-sandbox
[ -x "$DRIVER" ] && [ -x "$BIN" ] && [ -x "$HELPER" ] || { echo "build failed" >&2; exit 1; }

WORK=$(mktemp -d /tmp/coderunner-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
echo 'print(1)' >"$WORK/p1.py"
cat >"$WORK/flood.py" <<'PYEOF'
import sys
chunk = b"x" * 1048575 + b"\n"
for _ in range(2048):  # 2 GiB
    sys.stdout.buffer.write(chunk)
PYEOF

BWRAP=(bwrap --unshare-all --die-with-parent --new-session
    --ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib --symlink usr/lib64 /lib64
    --symlink usr/sbin /sbin --ro-bind /etc/ld.so.cache /etc/ld.so.cache
    --tmpfs /tmp --proc /proc --dev /dev --ro-bind "$WORK/p1.py" /work/main.py --chdir /work)

log "latency: $RUNS runs each (+3 warm-up)"
rows=$(
    "$DRIVER" exec bare "$RUNS" -- $PY -I "$WORK/p1.py"
    "$DRIVER" exec "coderunner run" "$RUNS" -- "$BIN" run "$WORK/p1.py"
    "$DRIVER" exec "cli start" "$RUNS" -- "$BIN" --version
    "$DRIVER" exec "cli config" "$RUNS" -- "$BIN" check-config
    "$DRIVER" exec "bwrap" "$RUNS" -- "${BWRAP[@]}" $PY -I main.py
    "$DRIVER" inproc "$HELPER" "$RUNS" | grep -v '^#'
)

log "throughput: $TP runs, 2 at a time"
t0=$(date +%s%N)
seq "$TP" | xargs -P2 -I{} $PY -I "$WORK/p1.py" >/dev/null
t1=$(date +%s%N)
bare_tp=$(python3 -c "print(f'{$TP/(($t1-$t0)/1e9):.1f}')")
t0=$(date +%s%N)
seq "$TP" | xargs -P2 -I{} "$BIN" run "$WORK/p1.py" >/dev/null 2>&1
t1=$(date +%s%N)
cli_tp=$(python3 -c "print(f'{$TP/(($t1-$t0)/1e9):.1f}')")
lib_tp=$("$DRIVER" throughput "$HELPER" "$TP" 2 | cut -f2)

log "bounded memory: coderunner run of a program printing 2 GiB"
/usr/bin/time -f '%M' -o "$WORK/rss1" "$BIN" run "$WORK/p1.py" >/dev/null 2>&1 || true
/usr/bin/time -f '%M' -o "$WORK/rss2" "$BIN" run "$WORK/flood.py" >/dev/null 2>"$WORK/flood.err" || true
rss_idle=$(tail -1 "$WORK/rss1"); rss_flood=$(tail -1 "$WORK/rss2")
flood_status=$(sed -n 's/^── \([a-z_]*\).*/\1/p' "$WORK/flood.err" | head -1)
cap=$("$BIN" check-config --print 2>/dev/null | grep -m1 -o 'output: [0-9A-Za-z]*' | cut -d' ' -f2 || true)
cap=${cap:-1MiB}

log "teardown: 200 sleeping processes past a 2 s deadline (3 tries)"
td=$(for _ in 1 2 3; do "$DRIVER" teardown "$HELPER" 200; done)

log "pipeline: !run python round trips in-process"
pl=$("$DRIVER" pipeline "$HELPER" "$RUNS")

bare_med=$(echo "$rows" | awk -F'\t' '$1=="bare"{print $2}')
echo
echo "coderunner benchmark · $(nproc) cores · $(uname -r) · $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "Sandbox overhead, print(1), $RUNS runs each"
printf '  %-34s %10s %10s %8s\n' "way" "median ms" "p95 ms" "× bare"
echo "$rows" | while IFS=$'\t' read -r label med p95 n; do
    case $label in
        bare) name="bare python3 -I" ;;
        "coderunner run") name="coderunner run (release, CLI)" ;;
        bwrap) name="bwrap --unshare-all (same mounts)" ;;
        inproc) name="runner library, in-process" ;;
        "cli start") name="  of which: coderunner --version" ;;
        "cli config") name="  of which: coderunner check-config" ;;
    esac
    printf '  %-34s %10s %10s %8s\n' "$name" "$med" "$p95" "$(python3 -c "print(f'{$med/$bare_med:.2f}')")"
done
echo
echo "Throughput, $TP short runs, 2 at a time (runs/s)"
printf '  %-34s %10s\n' "bare python3 -I" "$bare_tp" "coderunner run (CLI)" "$cli_tp" "runner library (concurrency 2)" "$lib_tp"
echo
echo "Bounded memory: peak RSS of coderunner run (output cap $cap)"
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
printf '  %-34s %10s\n' "print(1)" "$(mib "$rss_idle")" "printing 2 GiB (status: ${flood_status:-?})" "$(mib "$rss_flood")"
echo
echo "Teardown: 200 sleeping processes, 2 s deadline (ms after the deadline)"
printf '  %-10s %-14s %-14s %-10s\n' "try" "all gone" "run returned" "procs seen"
i=0
echo "$td" | while IFS=$'\t' read -r label gone ret peak status; do
    i=$((i + 1))
    printf '  %-10s %-14s %-14s %-10s\n' "$i" "$gone" "$ret" "$peak ($status)"
done
echo
echo "End to end: console-style !run python round trip, in-process ($RUNS runs)"
echo "$pl" | while IFS=$'\t' read -r label med p95 n; do
    case $label in
        pipeline_total) name="round trip (message in, reply out)" ;;
        pipeline_overhead) name="  minus the run = pipeline overhead" ;;
    esac
    printf '  %-38s median %8s ms   p95 %8s ms\n' "$name" "$med" "$p95"
done
