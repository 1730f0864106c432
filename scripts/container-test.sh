#!/usr/bin/env bash
# Verifies the Docker image: builds it with ../shared/tools/container-check (podman, local base
# images, no registry), then inside the container runs `coderunner doctor`, `coderunner run --json`
# on a Python hello world, a pandas import, JavaScript, Rust and TypeScript hello worlds, checks
# that `coderunner languages` finds every configured language, and one attack from the
# security suite (a fork bomb plus a read of /etc/shadow), asserting each result.
#
# Usage: scripts/container-test.sh [--privileged | --least]
#   --privileged  (default) the documented `docker run --privileged` setup: full isolation expected.
#   --least       CAP_SYS_ADMIN + seccomp/apparmor unconfined, no --privileged: doctor must say
#                 "degraded" (no per-run cgroups) and the checks must still pass.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:---privileged}
check=${CONTAINER_CHECK:-../shared/tools/container-check}
[ -x "$check" ] || { echo "container-test: $check not found; set CONTAINER_CHECK" >&2; exit 2; }

case "$mode" in
  --privileged) opts=(-o --privileged -o --cgroupns=host); expect_verdict="full isolation" ;;
  --least) opts=(-o --cap-add=SYS_ADMIN -o --security-opt=seccomp=unconfined
                 -o --security-opt=apparmor=unconfined); expect_verdict="degraded" ;;
  *) echo "usage: scripts/container-test.sh [--privileged | --least]" >&2; exit 2 ;;
esac

# The checks run inside the container with /bin/sh; every failure names what it checked.
read -r -d '' inside <<'SCRIPT' || true
set -eu
fail() { echo "container-test: FAIL: $*" >&2; exit 1; }
echo "--- coderunner doctor"
coderunner doctor > /tmp/doctor.txt 2>&1 || true
cat /tmp/doctor.txt
grep -q "verdict: EXPECT_VERDICT" /tmp/doctor.txt || fail "doctor verdict is not 'EXPECT_VERDICT'"

cd /tmp
echo 'print("hello from python")' > hello.py
echo "--- coderunner run --json hello.py"
coderunner run --json hello.py > out.json
cat out.json; echo
grep -Eq '"status": ?"exited"' out.json || fail "python hello: status is not exited"
grep -Eq '"exit_code": ?0,' out.json || fail "python hello: exit code is not 0"
grep -q 'hello from python' out.json || fail "python hello: output missing"

printf 'import pandas as pd\nprint("pandas", pd.__version__, pd.DataFrame({"a": [1, 2, 3]})["a"].sum())\n' > pandas_import.py
echo "--- coderunner run --json pandas_import.py"
coderunner run --json pandas_import.py > out.json
cat out.json; echo
grep -Eq '"status": ?"exited"' out.json || fail "pandas import: status is not exited"
grep -q 'pandas [0-9.]* 6' out.json || fail "pandas import: output missing"

echo 'console.log("hello from " + "node " + process.version)' > hello.js
echo "--- coderunner run --json hello.js"
coderunner run --json hello.js > out.json
cat out.json; echo
grep -Eq '"status": ?"exited"' out.json || fail "javascript hello: status is not exited"
grep -q 'hello from node v' out.json || fail "javascript hello: output missing"

printf 'fn main() {\n    let n: u32 = (1..=6).product();\n    println!("hello from rust {}", n);\n}\n' > hello.rs
echo "--- coderunner run --json hello.rs"
coderunner run --json hello.rs > out.json
cat out.json; echo
grep -Eq '"status": ?"exited"' out.json || fail "rust hello: status is not exited"
grep -q 'hello from rust 720' out.json || fail "rust hello: output missing"

printf 'const n: number = 6 * 7;\nconsole.log(`hello from typescript ${n}`);\n' > hello.ts
echo "--- coderunner run --json hello.ts"
coderunner run --json hello.ts > out.json
cat out.json; echo
grep -q 'hello from typescript 42' out.json || fail "typescript hello: output missing"

echo "--- coderunner languages"
coderunner languages | tee /tmp/langs.txt
if grep -q 'not installed' /tmp/langs.txt; then fail "a configured language is not installed in the image"; fi
echo "--- coderunner env build"
coderunner env build | tee /tmp/env.txt
grep -q 'no package sets are configured' /tmp/env.txt || fail "env build: unexpected output"

cat > attack.py <<'PY'
import os
try:
    open("/etc/shadow").read()
    print("SHADOW READ")
except OSError as e:
    print("shadow refused:", e.__class__.__name__)
n = 0
try:
    while True:
        if os.fork() == 0:
            import time; time.sleep(30); os._exit(0)
        n += 1
except OSError as e:
    print("fork refused after", n, "children:", e.__class__.__name__)
PY
echo "--- attack: /etc/shadow + fork bomb"
coderunner run --json attack.py > out.json
cat out.json; echo
grep -q 'SHADOW READ' out.json && fail "attack: /etc/shadow was readable in the sandbox"
grep -q 'shadow refused' out.json || fail "attack: no proof the shadow read was refused"
grep -q 'fork refused after' out.json || fail "attack: the fork bomb was not stopped by a limit"
sleep 1
left=0
for p in /proc/[0-9]*; do
  u=$(stat -c %u "$p" 2>/dev/null || echo 0)
  [ "$u" = 0 ] || { left=$((left + 1)); echo "left behind: $(cat "$p/cmdline" 2>/dev/null | tr '\0' ' ') (uid $u)"; }
done
[ "$left" -eq 0 ] || fail "attack: $left sandboxed processes left after the run"
echo "--- the image's HEALTHCHECK command"
echo 'echo ok' | coderunner run --json --lang sh - | grep -q '"stdout": "ok' || fail "the HEALTHCHECK command fails"
echo "healthy"
echo "container-test: all in-container checks passed"
SCRIPT
inside=${inside//EXPECT_VERDICT/$expect_verdict}

start=$(date +%s)
"$check" "${opts[@]}" -o --entrypoint=/bin/sh . -- -c "$inside"
echo "container-test: passed ($mode) in $(( $(date +%s) - start )) s"
if command -v podman >/dev/null; then
  podman image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -F 'coderunner:check' || true
fi
