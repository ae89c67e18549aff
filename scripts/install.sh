#!/usr/bin/env bash
# Installs csep and codex-self-evolution into ~/.cargo/bin (`cargo install --path . --locked`),
# statically linked on Linux with glibc when the toolchain allows it (see
# scripts/static-link.sh; CSEP_STATIC=0 opts out). Extra arguments go to `cargo install`,
# for example `--root DIR`.
#
#   scripts/install.sh
#   CSEP_STATIC=0 scripts/install.sh --root /opt/csep
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/static-link.sh
. scripts/static-link.sh
csep_cargo install --path . --locked "$@"
