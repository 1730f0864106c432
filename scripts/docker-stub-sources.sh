#!/bin/sh
# Used by the Dockerfile's dependency layer: creates an empty source file for every target the
# workspace manifests declare, so `cargo build` can compile only the dependencies. The real
# sources replace these in the next layer.
set -eu
for manifest in */Cargo.toml; do
  crate=$(dirname "$manifest")
  mkdir -p "$crate/src"
  : > "$crate/src/lib.rs"
  # Explicit target paths ([[bin]], [[bench]], [[test]], [[example]]): an empty main each.
  for path in $(sed -n 's/^path = "\(.*\)"$/\1/p' "$manifest"); do
    mkdir -p "$crate/$(dirname "$path")"
    [ -f "$crate/$path" ] || echo 'fn main() {}' > "$crate/$path"
  done
  # [[bench]] targets without a path live at benches/<name>.rs.
  awk '/^\[\[bench\]\]/{b=1; next} /^\[/{b=0} b && /^name *=/{gsub(/^name *= *"|"$/, ""); print}' "$manifest" |
    while read -r name; do
      mkdir -p "$crate/benches"
      [ -f "$crate/benches/$name.rs" ] || echo 'fn main() {}' > "$crate/benches/$name.rs"
    done
done
# lib.rs stubs are wrong for binary-only entry points declared as src/main.rs.
[ -f bot/src/main.rs ] || echo 'fn main() {}' > bot/src/main.rs
