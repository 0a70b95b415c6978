//! Links the root task and the child program at the user base of their architecture
//! (`kernel/src/arch/*/paging.rs`, `USER_BASE`; each runs in its own address space) with the
//! linker script, and embeds the child program in the root task.

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=link-{arch}.ld");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("none") {
        println!("cargo:rustc-link-arg-bins=-T{dir}/link-{arch}.ld");
    }
    embed_child();
}

/// Copies the child program's ELF (built first by the xtask, named in `GEARS_CHILD_ELF`) to
/// `$OUT_DIR/child.elf` for the root task's `include_bytes!`; empty without it (the child's own
/// build, or a plain `cargo build`).
fn embed_child() {
    println!("cargo:rerun-if-env-changed=GEARS_CHILD_ELF");
    let out = std::path::Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("child.elf");
    let bytes = match std::env::var("GEARS_CHILD_ELF") {
        Ok(path) if !path.is_empty() => {
            println!("cargo:rerun-if-changed={path}");
            std::fs::read(&path).unwrap_or_else(|e| panic!("GEARS_CHILD_ELF={path}: {e}"))
        }
        _ => Vec::new(),
    };
    std::fs::write(&out, bytes).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
}
