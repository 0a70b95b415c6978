//! The bare-metal Gears kernel (arrives with issue 5).
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("the Gears kernel runs under QEMU: use `cargo xtask run`");
    std::process::exit(2);
}
