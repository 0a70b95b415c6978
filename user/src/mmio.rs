//! Memory a program mapped through system calls: a device's registers (a frame retyped from a
//! device untyped), or a frame of RAM outside its image. Every access is one volatile read or
//! write, so none is merged, reordered against another or left out.
//!
//! Making the handle is the one unsafe step (the program promises the mapping); its accesses
//! are checked against its length and alignment.
//!
//! ```no_run
//! use gears_user::mmio::Mmio;
//! /// The device's registers, which `map_device` mapped at `addr`.
//! fn device(addr: u64) -> Mmio {
//!     // SAFETY: a page mapped read-write at `addr` for the program's life; no Rust object in it.
//!     unsafe { Mmio::new(addr, 4096) }
//! }
//! let regs = device(0x10_0000_0000);
//! regs.write_u32(0x10, 1);
//! let status = regs.read_u32(0x14);
//! ```

/// `len` bytes of mapped memory at `base`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Mmio {
    base: u64,
    len: usize,
}

impl Mmio {
    /// A handle on the `len` bytes at `base`.
    ///
    /// # Safety
    ///
    /// The bytes are mapped in this address space for as long as the handle (or a copy) is
    /// used, readable (and writable, for the writes the program makes); no Rust object lives in
    /// them (only this handle's volatile accesses and devices touch them).
    pub const unsafe fn new(base: u64, len: usize) -> Mmio {
        Mmio { base, len }
    }

    /// Its address.
    pub const fn base(self) -> u64 {
        self.base
    }

    /// Its length in bytes.
    pub const fn len(self) -> usize {
        self.len
    }

    /// Whether it has no bytes.
    pub const fn is_empty(self) -> bool {
        self.len == 0
    }

    /// The address of the `T` at `offset`, checked to lie inside and be aligned.
    fn at<T>(self, offset: usize) -> *mut T {
        let size = core::mem::size_of::<T>();
        assert!(
            offset.checked_add(size).is_some_and(|end| end <= self.len),
            "offset {offset} outside {self:?}"
        );
        let addr = self.base + offset as u64;
        assert!(addr.is_multiple_of(size as u64), "{addr:#x} is not aligned to {size}");
        addr as *mut T
    }

    /// The byte at `offset`.
    pub fn read_u8(self, offset: usize) -> u8 {
        // SAFETY: `new`'s contract; `at` checked that the byte lies inside.
        unsafe { self.at::<u8>(offset).read_volatile() }
    }

    /// Writes the byte at `offset`.
    pub fn write_u8(self, offset: usize, value: u8) {
        // SAFETY: as for `read_u8`, and the memory is writable.
        unsafe { self.at::<u8>(offset).write_volatile(value) }
    }

    /// The 32-bit word at `offset` (aligned).
    pub fn read_u32(self, offset: usize) -> u32 {
        // SAFETY: `new`'s contract; `at` checked the word lies inside and is aligned.
        unsafe { self.at::<u32>(offset).read_volatile() }
    }

    /// Writes the 32-bit word at `offset` (aligned).
    pub fn write_u32(self, offset: usize, value: u32) {
        // SAFETY: as for `read_u32`, and the memory is writable.
        unsafe { self.at::<u32>(offset).write_volatile(value) }
    }

    /// The 64-bit word at `offset` (aligned).
    pub fn read_u64(self, offset: usize) -> u64 {
        // SAFETY: `new`'s contract; `at` checked the word lies inside and is aligned.
        unsafe { self.at::<u64>(offset).read_volatile() }
    }

    /// Writes the 64-bit word at `offset` (aligned).
    pub fn write_u64(self, offset: usize, value: u64) {
        // SAFETY: as for `read_u64`, and the memory is writable.
        unsafe { self.at::<u64>(offset).write_volatile(value) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accesses_stay_inside_and_aligned() {
        let mut words = [0u64; 4];
        // SAFETY: `words` lives to the end of the test, and only the handle touches it meanwhile.
        let m = unsafe { Mmio::new(words.as_mut_ptr() as u64, 32) };
        m.write_u32(4, 0xdead_beef);
        m.write_u8(31, 7);
        assert_eq!(m.read_u32(4), 0xdead_beef);
        assert_eq!(m.read_u64(24) >> 56, 7);
        assert!(std::panic::catch_unwind(|| m.read_u32(30)).is_err());
        assert!(std::panic::catch_unwind(|| m.read_u32(2)).is_err());
        assert_eq!(words[0] >> 32, 0xdead_beef);
    }
}
