#!/usr/bin/env bash
# csep vs the Python reference (codex-self-evolution-plugin 0.7.7), side by side, whole process.
#
#   bench/compare.sh                 # build, install the reference, generate the corpus, measure
#   bench/compare.sh --quick 100     # smoke test of the harness on a corpus 100x smaller
#
# Extra arguments go to the runner (examples/compare): --runs N, --runs-slow N, --runs-heavy N,
# --archive-messages N, --dir DIR, --out FILE, --quick N, --only ROW (session-start, stop, recall,
# compile, ingest; repeatable). See examples/compare/main.rs.
#
# Environment: CARGO_TARGET_DIR (default: target), BENCH_DIR (corpus; default:
# ${TMPDIR:-/tmp}/csep-bench-corpus, outside any git repository, reused when unchanged),
# REF_VENV (default: .cache/ref-venv).
set -euo pipefail

cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
venv="${REF_VENV:-.cache/ref-venv}"
bench_dir="${BENCH_DIR:-${TMPDIR:-/tmp}/csep-bench-corpus}"

echo "== build (release): csep, linked as scripts/install.sh links it, and the runner" >&2
# shellcheck source=scripts/static-link.sh
. scripts/static-link.sh
csep_cargo build --release --locked --bin csep --example compare >&2

if [ ! -x "$venv/bin/codex-self-evolution" ]; then
    echo "== install the reference into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet codex-self-evolution-plugin==0.7.7
fi

if [ ! -x /usr/bin/time ]; then
    echo "== /usr/bin/time is missing (peak RSS); installing the 'time' package" >&2
    if [ "$(id -u)" = 0 ]; then apt-get install -y -qq time >&2; else sudo apt-get install -y -qq time >&2; fi
fi

echo "== measure (corpus in $bench_dir)" >&2
exec "$target/${CSEP_TARGET_SUBDIR}release/examples/compare" \
    --dir "$bench_dir" \
    --csep "$target/${CSEP_TARGET_SUBDIR}release/csep" \
    --ref-bin "$venv/bin" \
    "$@"
