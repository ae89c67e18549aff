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
    // `-no-pie` is an option of the C compiler drivers that link Rust on Linux by default; a
    // configured linker that is not one (a bare `ld`, `rust-lld`) gets the default PIE.
    let linker_is_cc = std::env::var("RUSTC_LINKER").map_or(true, |linker| {
        let name = std::path::Path::new(&linker)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        ["cc", "gcc", "clang"].iter().any(|driver| {
            name == *driver
                || name.ends_with(&format!("-{driver}"))
                || name.starts_with(&format!("{driver}-"))
        })
    });
    println!("cargo:rerun-if-env-changed=RUSTC_LINKER");
    // For the test that checks the executables' type: the linker configured, if any.
    println!(
        "cargo:rustc-env=CSEP_CONFIGURED_LINKER={}",
        std::env::var("RUSTC_LINKER").unwrap_or_default()
    );
    if os == "linux" && env == "gnu" && linker_is_cc {
        for bin in ["csep", "codex-self-evolution"] {
            println!("cargo:rustc-link-arg-bin={bin}=-no-pie");
        }
        // Tells the test that checks the executables' type what to expect.
        println!("cargo:rustc-env=CSEP_LINKED_NON_PIE=1");
    }
}
