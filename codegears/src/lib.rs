//! The kernel's normal level as CodeGears (capabilities, CSpace, CNode operations, untyped, …).
//!
//! No `unsafe`, no arch code, no metagear-specific code: verification is plugged in at the meta
//! level. The capability system arrives with issue 3.
#![no_std]
#![forbid(unsafe_code)]
