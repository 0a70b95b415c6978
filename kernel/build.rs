//! Links the riscv64 kernel at 0x80200000 (where OpenSBI jumps) with its linker script.
//! The x86_64 kernel needs none: the bootloader loads the position-independent ELF.
//! Also embeds the root task (`kernel/roottask`, built by the xtask, which names it in
//! `GEARS_ROOTTASK_ELF`): without it the kernel is built with an empty root task.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    embed_root_task();
    println!("cargo:rerun-if-changed=src/arch/riscv64/linker.ld");
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if arch == "riscv64" && os == "none" {
        let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
        println!("cargo:rustc-link-arg-bins=-T{dir}/src/arch/riscv64/linker.ld");
    }
}

/// Copies the root task's ELF (or nothing) to `$OUT_DIR/roottask.elf` for `include_bytes!`.
fn embed_root_task() {
    println!("cargo:rerun-if-env-changed=GEARS_ROOTTASK_ELF");
    let out =
        std::path::Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("roottask.elf");
    let bytes = match std::env::var("GEARS_ROOTTASK_ELF") {
        Ok(path) if !path.is_empty() => {
            println!("cargo:rerun-if-changed={path}");
            std::fs::read(&path).unwrap_or_else(|e| panic!("GEARS_ROOTTASK_ELF={path}: {e}"))
        }
        _ => Vec::new(),
    };
    std::fs::write(&out, bytes).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
}
