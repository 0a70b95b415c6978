//! Worked examples and scenario support for the host integration tests in `tests/tests/`.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod ialloc;
pub mod ialloc_contracts;
pub mod philosophers;
pub mod revoke_system;
pub mod sel4;
pub mod xv6_system;
