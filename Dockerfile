# coderunner image: the bot, its sandbox helper, and the interpreters it sandboxes.
#
#   docker build -t coderunner .
#   docker build -t coderunner-slim --build-arg LANGUAGES="python javascript c" .
#   docker run -d --name coderunner --privileged --cgroupns=host \
#     -e DISCORD_TOKEN -v coderunner-data:/data coderunner
#
# See README "Deploy" for what each flag buys and what is lost without it.

# The languages the image carries (names of config/default.yaml; bash and sh are always there).
# Languages left out are also left out of the image's config, so `!langs` lists only these.
ARG LANGUAGES="python javascript typescript c cpp rust go java r ruby pypy lua php perl"
# esbuild for typescript, from the npm registry (the same version scripts/test.sh installs).
ARG ESBUILD_VERSION=0.28.2

# ---- builder: release binaries, with dependencies cached in their own layer ----
FROM rust:1-bookworm AS builder
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY config/Cargo.toml config/
COPY runner/Cargo.toml runner/
COPY commands/Cargo.toml commands/
COPY bot/Cargo.toml bot/
COPY tests/Cargo.toml tests/
# Stub sources so `cargo build` compiles only the dependencies; this layer is reused
# until Cargo.toml or Cargo.lock change.
COPY scripts/docker-stub-sources.sh scripts/
RUN scripts/docker-stub-sources.sh \
 && cargo build --release --locked -p coderunner -p coderunner-runner --bins \
 && rm -rf config/src runner/src commands/src bot/src tests/src */benches
COPY . .
# Make sure cargo sees the real sources as newer than the stubs.
RUN find config runner commands bot tests -name '*.rs' -exec touch {} + \
 && cargo build --release --locked -p coderunner -p coderunner-runner --bins \
 && strip target/release/coderunner target/release/coderunner-sandbox

# ---- esbuild: typescript's compiler, a static binary from the npm registry (only when asked) ----
FROM debian:bookworm-slim AS esbuild
ARG LANGUAGES
ARG ESBUILD_VERSION
RUN mkdir -p /out \
 && case " $LANGUAGES " in *" typescript "*) ;; *) exit 0 ;; esac \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends npm ca-certificates \
 && npm install --global --prefix /opt/esbuild --no-fund --no-audit --loglevel=error "esbuild@$ESBUILD_VERSION" \
 && cp "$(find /opt/esbuild -path '*/@esbuild/linux-*/bin/esbuild' -type f | head -n 1)" /out/esbuild \
 && /out/esbuild --version | grep -qx "$ESBUILD_VERSION"

# ---- runtime: Debian's interpreters and compilers, the binaries, the default config ----
FROM debian:bookworm-slim
ARG LANGUAGES
ENV DEBIAN_FRONTEND=noninteractive
# Lean: no documentation, man pages or translations from any package (the JDK's postinst still
# wants /usr/share/man/man1 to exist). Each language's packages, without recommends.
RUN printf '%s\n' 'path-exclude=/usr/share/doc/*' 'path-include=/usr/share/doc/*/copyright' \
      'path-exclude=/usr/share/man/*' 'path-exclude=/usr/share/info/*' 'path-exclude=/usr/share/locale/*' \
      > /etc/dpkg/dpkg.cfg.d/01-coderunner-lean \
 && mkdir -p /usr/share/man/man1 \
 && pkgs="tini ca-certificates bash" \
 && for lang in $LANGUAGES; do \
      case "$lang" in \
        python) pkgs="$pkgs python3 python3-numpy python3-pandas python3-matplotlib python3-pip" ;; \
        javascript|typescript) pkgs="$pkgs nodejs" ;; \
        c) pkgs="$pkgs gcc libc6-dev" ;; \
        cpp) pkgs="$pkgs g++ libc6-dev" ;; \
        rust) pkgs="$pkgs rustc-web gcc libc6-dev" ;; \
        go) pkgs="$pkgs golang-go" ;; \
        java) pkgs="$pkgs openjdk-17-jdk-headless" ;; \
        r) pkgs="$pkgs r-base-core" ;; \
        ruby) pkgs="$pkgs ruby" ;; \
        pypy) pkgs="$pkgs pypy3" ;; \
        lua) pkgs="$pkgs lua5.4" ;; \
        php) pkgs="$pkgs php-cli" ;; \
        perl) pkgs="$pkgs perl" ;; \
        bash|sh) ;; \
        *) echo "LANGUAGES: unknown language '$lang' (known: python javascript typescript c cpp rust go java r ruby pypy lua php perl)" >&2; exit 1 ;; \
      esac; \
    done \
 && apt-get update \
 && apt-get install -y --no-install-recommends $pkgs \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb /usr/share/man/* /root/.cache
COPY --from=esbuild /out/ /usr/local/bin/
COPY --from=builder /src/target/release/coderunner /src/target/release/coderunner-sandbox /usr/local/bin/
# The default config with its data directory moved to the /data volume, the small helper
# binary named (it starts about 2 ms faster per run than the bot re-executing itself), and only
# the languages of LANGUAGES (bash and sh always).
COPY config/default.yaml /etc/coderunner/config.yaml
RUN sed -i -e 's#^  data_dir: .*#  data_dir: /data#' \
      -e 's#^    helper: null#    helper: /usr/local/bin/coderunner-sandbox#' /etc/coderunner/config.yaml \
 && grep -q '^    helper: /usr/local/bin/coderunner-sandbox' /etc/coderunner/config.yaml \
 && awk -v keep=" $LANGUAGES bash sh " ' \
      /^  languages:/ { inlang = 1; print; next } \
      inlang && /^  [a-z]/ { inlang = 0; skip = 0 } \
      inlang && /^    [a-z0-9_+-]+:/ { name = $1; sub(/:.*/, "", name); skip = index(keep, " " name " ") == 0 } \
      !skip { print }' /etc/coderunner/config.yaml > /tmp/config.yaml \
 && mv /tmp/config.yaml /etc/coderunner/config.yaml \
 && coderunner check-config /etc/coderunner/config.yaml
ENV CODERUNNER_CONFIG=/etc/coderunner/config.yaml
# The config's package sets (config.environments), if any, built into /data/environments: a new
# volume starts with them; `docker exec coderunner coderunner env build` refreshes an old one.
RUN coderunner env build
VOLUME /data
WORKDIR /data
# Healthy means the sandbox can still run code: a tiny sh program through the real runner.
HEALTHCHECK --interval=60s --timeout=15s --start-period=20s --retries=3 \
  CMD echo 'echo ok' | coderunner run --json --lang sh - | grep -q '"stdout": "ok' || exit 1
# tini forwards SIGTERM to coderunner (graceful shutdown) and reaps zombies.
ENTRYPOINT ["/usr/bin/tini", "--", "coderunner"]
