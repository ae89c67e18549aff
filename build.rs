//! Links the `csep` and `codex-self-evolution` executables as non-PIE on Linux with glibc.
//!
//! Why: a hook runs as a fresh process on every host event, and most of its start-up cost is
//! page faults. A position-independent executable of this size carries about 16,500 relative
//! relocations that the dynamic loader applies at every start, writing (so copying) every page
//! of `.data.rel.ro` — about 130 extra page faults, a quarter of a SessionStart hook. Linked at
//! a fixed address, the executable has no relative relocations; the objects stay
//! position-independent code, so nothing else changes. Like Go's default executables, the
//! image itself is then not randomised; the stack, heap, shared libraries and mmaps still are.
//! `bench/compare.sh` measures the effect (README, Performance).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        for bin in ["csep", "codex-self-evolution"] {
            println!("cargo:rustc-link-arg-bin={bin}=-no-pie");
        }
    }
}
