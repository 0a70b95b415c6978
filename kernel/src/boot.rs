//! What the arch's boot code hands to [`crate::kernel_main`]: the usable physical memory.

/// A range of physical memory, `start..end`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PhysRegion {
    /// The first byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

impl PhysRegion {
    /// The size in bytes.
    pub fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }
}

/// The most usable regions kept (firmware maps have a few dozen at most).
pub const MAX_REGIONS: usize = 64;

/// The usable physical memory, as the bootloader or firmware reported it, and the RAM that is
/// in use already (the kernel's image, the firmware's, the bootloader's structures): neither free
/// memory nor a device.
#[derive(Clone, Debug)]
pub struct BootMemory {
    regions: [PhysRegion; MAX_REGIONS],
    count: usize,
    reserved: [PhysRegion; MAX_REGIONS],
    reserved_count: usize,
}

impl BootMemory {
    /// No memory.
    pub const fn empty() -> Self {
        let none = [PhysRegion { start: 0, end: 0 }; MAX_REGIONS];
        BootMemory { regions: none, count: 0, reserved: none, reserved_count: 0 }
    }

    /// Adds a usable region (dropped silently when the table is full).
    pub fn push(&mut self, region: PhysRegion) {
        if self.count < MAX_REGIONS && region.len() > 0 {
            self.regions[self.count] = region;
            self.count += 1;
        }
    }

    /// Adds a region of RAM in use (dropped silently when the table is full).
    pub fn push_reserved(&mut self, region: PhysRegion) {
        if self.reserved_count < MAX_REGIONS && region.len() > 0 {
            self.reserved[self.reserved_count] = region;
            self.reserved_count += 1;
        }
    }

    /// Takes `start..end`, which lies in one usable region, out of the usable regions: that
    /// region is split around it (a piece that would be empty is dropped).
    pub fn remove(&mut self, start: u64, end: u64) {
        let (regions, count) = (self.regions, self.count);
        self.count = 0;
        for r in &regions[..count] {
            if r.start <= start && end <= r.end {
                self.push(PhysRegion { start: r.start, end: start });
                self.push(PhysRegion { start: end, end: r.end });
            } else {
                self.push(*r);
            }
        }
    }

    /// Drops every usable region (the reserved ones stay).
    pub fn clear_regions(&mut self) {
        self.count = 0;
    }

    /// The usable regions.
    pub fn regions(&self) -> &[PhysRegion] {
        &self.regions[..self.count]
    }

    /// The regions of RAM in use.
    pub fn reserved(&self) -> &[PhysRegion] {
        &self.reserved[..self.reserved_count]
    }
}
