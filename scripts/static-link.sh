# Sourced by scripts/install.sh and bench/compare.sh: on Linux with glibc, link the executables
# statically when the C toolchain can (libc.a present: Debian/Ubuntu's libc6-dev has it, Fedora
# needs glibc-static). A static executable skips the dynamic loader, which on every start maps
# libc, libm and libgcc_s and resolves their symbols: about 0.8 ms of each hook and each
# `csep recall` on a 2-core VM (README, Performance). Built on the machine that runs it, it
# loads that machine's NSS modules if its configuration names any beyond `files` and `dns`
# (which glibc 2.34+ has built in).
#
# Sets CSEP_BUILD_TARGET (the host triple, for `cargo --target`), CSEP_TARGET_SUBDIR (where
# cargo puts that target's build, relative to the target directory) and CSEP_RUSTFLAGS (to add
# to RUSTFLAGS for that cargo command only, so nothing else the caller runs, such as `pip`,
# sees them), or leaves all three empty when linking statically is not possible here; and
# defines `csep_cargo ARGS...`, which runs `cargo ARGS...` with them.
CSEP_BUILD_TARGET=""
CSEP_TARGET_SUBDIR=""
CSEP_RUSTFLAGS=""
if [ "${CSEP_STATIC:-1}" != 0 ]; then
    _csep_host="$(rustc -vV | sed -n 's/^host: //p')"
    case "$_csep_host" in
    *-linux-gnu)
        _csep_probe="$(mktemp -d)"
        if printf 'int main(void){return 0;}\n' >"$_csep_probe/probe.c" \
            && cc -static -o "$_csep_probe/probe" "$_csep_probe/probe.c" >/dev/null 2>&1 \
            && "$_csep_probe/probe"; then
            CSEP_BUILD_TARGET="$_csep_host"
            CSEP_TARGET_SUBDIR="$_csep_host/"
            # crt-static links glibc into the executable; a static relocation model makes it a
            # plain static executable (not static-pie, which would apply every relocation at
            # start). `--target` keeps these flags off build scripts and proc macros.
            CSEP_RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static"
        else
            echo "note: no static C library here (install glibc-static or libc6-dev for faster" \
                "starts); building dynamically linked executables" >&2
        fi
        rm -rf "$_csep_probe"
        ;;
    esac
fi

# Runs `cargo "$@"`, linked as chosen above: with the static flags and `--target` when static
# linking is on, as is otherwise. A cargo that keeps its own arguments after `--` is not
# supported (none of the callers passes one).
csep_cargo() {
    if [ -n "$CSEP_BUILD_TARGET" ]; then
        RUSTFLAGS="${RUSTFLAGS:-} $CSEP_RUSTFLAGS" cargo "$@" --target "$CSEP_BUILD_TARGET"
    else
        cargo "$@"
    fi
}
