//! Links the riscv64 kernel at 0x80200000 (where OpenSBI jumps) with its linker script.
//! The x86_64 kernel needs none: the bootloader loads the position-independent ELF.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/arch/riscv64/linker.ld");
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if arch == "riscv64" && os == "none" {
        let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
        println!("cargo:rustc-link-arg-bins=-T{dir}/src/arch/riscv64/linker.ld");
    }
}
