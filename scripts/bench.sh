#!/usr/bin/env bash
# Prints one comparison table of coderunner's costs, measured in one run on this machine:
# sandbox overhead on print(1) four ways, throughput at concurrency 2, peak RSS during a 2 GB
# output flood, teardown after a deadline, the chat pipeline's own overhead, notebook-session
# cells, parking and restoring, and the warm pool.
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

log "notebook sessions: cells 100 ms apart, first pandas cell (warm and cold), park/restore of a 50 MiB DataFrame"
sess=$("$DRIVER" session "$HELPER" "$RUNS" | grep -v '^#')

log "warm pool: runs spaced 100 ms apart through coderunner serve, cold (warm_pool: 0) and warm"
SP=scripts/bench_spaced.py
export BENCH_KEY=bench-key-not-secret
KEY_SHA=$(printf %s "$BENCH_KEY" | sha256sum | cut -d' ' -f1)
echo 'print(1)' >"$WORK/p1.py"; printf '1\n' >"$WORK/p1.py.want"
printf 'import pandas as pd\nprint(pd.DataFrame({"a": [1, 2]}).sum())\n' >"$WORK/df.py"
printf 'import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [1, 4, 9])\nplt.savefig("plot.png")\n' >"$WORK/plot.py"
echo 'console.log(1)' >"$WORK/p1.js"; printf '1\n' >"$WORK/p1.js.want"
echo 'echo 1' >"$WORK/p1.sh"; printf '1\n' >"$WORK/p1.sh.want"
serve_config() { # $1: warm_pool value, $2: port
    "$BIN" config print-default | python3 -c '
import re, sys
t = sys.stdin.read()
t = t.replace("warm_pool: auto", "warm_pool: " + sys.argv[1], 1)
t = re.sub(r"listen: [0-9.:]+", "listen: 127.0.0.1:" + sys.argv[2], t, count=1)
t = t.replace("data_dir: coderunner-data", "data_dir: " + sys.argv[3], 1)
t = t.replace("api_keys: []", "api_keys:\n      - {name: bench, key_sha256: \"" + sys.argv[4] + "\", tier: data}", 1)
# The bench sends a run every 100 ms, far past the data tier'"'"'s rate limits: lift them for the
# bench only (the product defaults stay).
t, n = re.subn(r"(\n      data: \{count: )[0-9]+(, per: 1m\})", r"\g<1>1000000\g<2>", t)
assert n >= 1, "no data-tier rate limit found to lift"
print(t)' "$1" "$2" "$WORK/data-$1" "$KEY_SHA" >"$WORK/serve-$1.yaml"
}
WN=${BENCH_SPACED_RUNS:-30}
spaced_rows=""
for mode in 0 auto; do
    port=$((18900 + ${#mode}))
    serve_config "$mode" "$port"
    "$BIN" --config "$WORK/serve-$mode.yaml" serve >"$WORK/serve-$mode.log" 2>&1 &
    spid=$!
    for _ in $(seq 100); do curl -s "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
    [ "$mode" = auto ] && sleep 15 # the zygote's preload and the first slots
    url="http://127.0.0.1:$port"
    tag=$([ "$mode" = 0 ] && echo cold || echo warm)
    spaced_rows+=$(
        python3 $SP http "$tag print" "$WN" 100 "$url" python "$WORK/p1.py"; echo
        python3 $SP http "$tag df" "$WN" 100 "$url" python "$WORK/df.py"; echo
        python3 $SP http "$tag plot" "$WN" 100 "$url" python "$WORK/plot.py"; echo
        python3 $SP http "$tag node" "$WN" 100 "$url" javascript "$WORK/p1.js"; echo
        python3 $SP http "$tag bash" "$WN" 100 "$url" bash "$WORK/p1.sh"; echo
        # The same through Python's http.client, whose own cost shows at this size.
        python3 $SP http-stdlib "$tag bash-stdlib" "$WN" 100 "$url" bash "$WORK/p1.sh"; echo
    )$'\n'
    if [ "$mode" = auto ]; then
        pool_mem=$("$BIN" --config "$WORK/serve-auto.yaml" doctor 2>/dev/null |
            grep -E '^  (memory|one [a-z]+ slot|a full pool)' | sed 's/^ *memory[^:]*: //; s/^ *//' | paste -sd';' | sed 's/;/; /g')
    fi
    kill "$spid"; wait "$spid" || true
done
# Bare runs get an empty environment (bench_spaced.py exec), as a sandboxed run does.
spaced_bare=$(
    python3 $SP exec "bare print" "$WN" 100 -- $PY -I "$WORK/p1.py"
    python3 $SP exec "bare node" "$WN" 100 -- /usr/bin/node "$WORK/p1.js"
    python3 $SP exec "bare bash" "$WN" 100 -- /bin/bash "$WORK/p1.sh"
)
lib_rows=$(for lang in python javascript bash; do
    "$DRIVER" spaced "$HELPER" "$WN" cold $lang; "$DRIVER" spaced "$HELPER" "$WN" warm $lang
done | grep -v '^#')

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
echo
echo "Notebook sessions (runner library, data profile; targets: overhead <= 5 ms, first cell <= 150 ms, park/restore <= 1 s)"
echo "$sess" | while IFS=$'\t' read -r label med p95 n; do
    case $label in
        "cell pass") name="cell overhead (pass)" ;;
        "cell sleep50 minus 50") name="cell overhead (50 ms sleep - 50)" ;;
        "first pandas cell") name="new session + first pandas cell" ;;
        "first pandas cell cold") name="  the same, cold (no warm pool)" ;;
        "park 50MiB") name="park, 50 MiB DataFrame" ;;
        "restore 50MiB") name="restore, 50 MiB DataFrame" ;;
        *) name=$label ;;
    esac
    printf '  %-38s median %8s ms   p95 %8s ms   (n=%s)\n' "$name" "$med" "$p95" "$n"
done
echo
echo "Warm pool: runs spaced 100 ms apart through coderunner serve (HTTP API, a minimal keep-alive client), $WN runs each"
printf '  %-30s %12s %12s %12s %12s\n' "program" "cold median" "warm median" "warm p95" "warm × bare"
med() { echo "$1" | awk -F'\t' -v l="$2" '$1==l{print $2}'; }
p95() { echo "$1" | awk -F'\t' -v l="$2" '$1==l{print $3}'; }
for what in print df plot node bash bash-stdlib; do
    c=$(med "$spaced_rows" "cold $what"); w=$(med "$spaced_rows" "warm $what"); wp=$(p95 "$spaced_rows" "warm $what")
    b=$(med "$spaced_bare" "bare ${what%-stdlib}")
    ratio=$([ -n "$b" ] && python3 -c "print(f'{$w/$b:.2f}')" || echo "-")
    case $what in
        print) name="python print(1)" ;; df) name="pandas DataFrame step" ;;
        plot) name="matplotlib plot -> PNG" ;; node) name="node console.log(1)" ;; bash) name="bash echo 1" ;;
        bash-stdlib) name="  the same, http.client" ;;
    esac
    printf '  %-30s %12s %12s %12s %12s\n' "$name" "$c" "$w" "$wp" "$ratio"
done
printf '  %-30s %12s\n' "bare python3 -I print(1)" "$(med "$spaced_bare" "bare print")" \
    "bare node" "$(med "$spaced_bare" "bare node")" "bare bash" "$(med "$spaced_bare" "bare bash")"
echo "  pool memory (doctor): ${pool_mem:-?}"
for what in "" " node" " bash"; do
    case $what in
        "") name="python print(1), library"; bare="bare print" ;;
        " node") name="node console.log(1), library"; bare="bare node" ;;
        " bash") name="bash echo 1, library"; bare="bare bash" ;;
    esac
    printf '  %-30s %12s %12s %12s %12s\n' "$name" "$(med "$lib_rows" "lib cold$what")" \
        "$(med "$lib_rows" "lib warm$what")" "$(p95 "$lib_rows" "lib warm$what")" \
        "$(python3 -c "print(f'{$(med "$lib_rows" "lib warm$what")/$(med "$spaced_bare" "$bare"):.2f}')")"
done
