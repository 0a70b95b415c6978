//! riscv64 (QEMU `virt`, OpenSBI): not written yet (issue 6).
//!
//! It must define the same names as `x86_64` (see the list in `arch/mod.rs`).
