//! What the fuzzer needs of each arch's ABI beyond the paging objects (`gears_user::vspace`):
//! the arch labels it aims at, the object and label counts, the address-space limits, the
//! registers.

#[cfg(target_arch = "x86_64")]
mod imp {
    use abi::x86_64::{label, object};

    /// `seL4_ObjectTypeCount` and `nArchInvocationLabels`: the first type and label past the end.
    pub const OBJECT_COUNT: u64 = object::COUNT;
    pub const LABEL_COUNT: u64 = label::COUNT;
    /// The page types a frame can be retyped as: 4 KiB, 2 MiB, 1 GiB.
    pub const PAGE_TYPES: [u64; 3] = [object::SMALL_PAGE, object::LARGE_PAGE, object::HUGE_PAGE];
    /// Map and Unmap of each paging structure below the root, top down (as `gears_user::vspace::LEVELS`).
    pub const TABLE_LABELS: [(u64, u64); 3] = [
        (label::PDPT_MAP, label::PDPT_UNMAP),
        (label::PAGE_DIRECTORY_MAP, label::PAGE_DIRECTORY_UNMAP),
        (label::PAGE_TABLE_MAP, label::PAGE_TABLE_UNMAP),
    ];
    /// Page Map, Unmap and GetAddress; ASIDControl MakePool; ASIDPool Assign.
    pub const PAGE_MAP: u64 = label::PAGE_MAP;
    pub const PAGE_UNMAP: u64 = label::PAGE_UNMAP;
    pub const PAGE_GET_ADDRESS: u64 = label::PAGE_GET_ADDRESS;
    pub const ASID_CONTROL_MAKE_POOL: u64 = label::ASID_CONTROL_MAKE_POOL;
    pub const ASID_POOL_ASSIGN: u64 = label::ASID_POOL_ASSIGN;
    /// `seL4_UserTop` and the kernel's highest user address.
    pub const USER_TOP: u64 = abi::x86_64::USER_TOP;
    /// Registers in `seL4_UserContext`.
    pub const REGISTER_COUNT: u64 = abi::x86_64::REGISTER_COUNT as u64;
    /// The most untyped bits.
    pub const MAX_UNTYPED_BITS: u64 = abi::x86_64::MAX_UNTYPED_BITS as u64;
}

#[cfg(target_arch = "riscv64")]
mod imp {
    use abi::riscv64::{label, object};

    /// `seL4_ObjectTypeCount` and `nArchInvocationLabels`: the first type and label past the end.
    pub const OBJECT_COUNT: u64 = object::COUNT;
    pub const LABEL_COUNT: u64 = label::COUNT;
    /// The page types a frame can be retyped as: 4 KiB, 2 MiB, 1 GiB.
    pub const PAGE_TYPES: [u64; 3] = [object::SMALL_PAGE, object::MEGA_PAGE, object::GIGA_PAGE];
    /// Map and Unmap of each page table below the root, top down (as `gears_user::vspace::LEVELS`).
    pub const TABLE_LABELS: [(u64, u64); 2] =
        [(label::PAGE_TABLE_MAP, label::PAGE_TABLE_UNMAP), (label::PAGE_TABLE_MAP, label::PAGE_TABLE_UNMAP)];
    /// Page Map, Unmap and GetAddress; ASIDControl MakePool; ASIDPool Assign.
    pub const PAGE_MAP: u64 = label::PAGE_MAP;
    pub const PAGE_UNMAP: u64 = label::PAGE_UNMAP;
    pub const PAGE_GET_ADDRESS: u64 = label::PAGE_GET_ADDRESS;
    pub const ASID_CONTROL_MAKE_POOL: u64 = label::ASID_CONTROL_MAKE_POOL;
    pub const ASID_POOL_ASSIGN: u64 = label::ASID_POOL_ASSIGN;
    /// `seL4_UserTop`.
    pub const USER_TOP: u64 = abi::riscv64::USER_TOP;
    /// Registers in `seL4_UserContext`.
    pub const REGISTER_COUNT: u64 = abi::riscv64::REGISTER_COUNT as u64;
    /// The most untyped bits.
    pub const MAX_UNTYPED_BITS: u64 = abi::riscv64::MAX_UNTYPED_BITS as u64;
}

pub use imp::*;

/// Values worth trying wherever a word goes: bounds, powers of two and their neighbours, the
/// top of user space, kernel and non-canonical addresses.
pub const INTERESTING: [u64; 32] = [
    0,
    1,
    2,
    3,
    4,
    7,
    8,
    12,
    21,
    30,
    47,
    63,
    64,
    65,
    127,
    128,
    255,
    256,
    257,
    0xfff,
    0x1000,
    0x1001,
    0x20_0000,
    USER_TOP - 0x1000,
    USER_TOP,
    0x0000_8000_0000_0000,
    0xffff_8000_0000_0000,
    0xffff_ffff_8000_0000,
    0x7fff_ffff_ffff_ffff,
    0x8000_0000_0000_0000,
    u64::MAX - 1,
    u64::MAX,
];
