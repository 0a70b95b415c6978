//! Which arch's flavour of the ABI a kernel speaks.

/// The architecture whose ABI numbers (object types, arch labels, register layouts) apply.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub enum Arch {
    /// x86_64: 4-level paging, `syscall`.
    #[default]
    X86_64,
    /// riscv64 Sv39: 3-level paging, `ecall`.
    Riscv64,
}

impl Arch {
    /// The arch this code is compiled for, on the two arches Gears runs on (the host model
    /// follows the host: x86_64 unless built for riscv64).
    pub const fn native() -> Arch {
        if cfg!(target_arch = "riscv64") { Arch::Riscv64 } else { Arch::X86_64 }
    }

    /// Its name, as `cargo xtask --arch` spells it.
    pub const fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Riscv64 => "riscv64",
        }
    }
}

impl Arch {
    /// `sizeof(seL4_UserContext) / sizeof(seL4_Word)`: 20 on x86_64, 32 on riscv64.
    pub const fn register_count(self) -> usize {
        match self {
            Arch::X86_64 => crate::x86_64::REGISTER_COUNT,
            Arch::Riscv64 => crate::riscv64::REGISTER_COUNT,
        }
    }

    /// `n_frameRegisters`: ReadRegisters' first part.
    pub const fn frame_registers(self) -> usize {
        match self {
            Arch::X86_64 => crate::x86_64::FRAME_REGISTERS,
            Arch::Riscv64 => crate::riscv64::FRAME_REGISTERS,
        }
    }

    /// The index of the instruction pointer (FaultIP) in `seL4_UserContext` order.
    pub const fn ip_register(self) -> usize {
        match self {
            Arch::X86_64 => crate::x86_64::reg::RIP,
            Arch::Riscv64 => crate::riscv64::reg::PC,
        }
    }

    /// The index of the TLS register (`TLS_BASE`: x86_64's FS base, riscv64's tp), which
    /// SetTLSBase sets.
    pub const fn tls_register(self) -> usize {
        match self {
            Arch::X86_64 => crate::x86_64::reg::FS_BASE,
            Arch::Riscv64 => crate::riscv64::reg::TP,
        }
    }

    /// The index of the stack pointer.
    pub const fn sp_register(self) -> usize {
        match self {
            Arch::X86_64 => crate::x86_64::reg::RSP,
            Arch::Riscv64 => crate::riscv64::reg::SP,
        }
    }

    /// Where a system call's number, cap, MessageInfo and message words are, and where the
    /// reply's badge goes.
    pub const fn syscall_registers(self) -> SyscallRegisters {
        match self {
            Arch::X86_64 => {
                use crate::x86_64::syscall as s;
                SyscallRegisters {
                    number: s::NUMBER,
                    cap: s::CAP,
                    badge: s::BADGE,
                    info: s::INFO,
                    msg: s::MSG,
                    instruction_len: s::INSTRUCTION_LEN,
                    tls_base: s::TLS_BASE,
                }
            }
            Arch::Riscv64 => {
                use crate::riscv64::syscall as s;
                SyscallRegisters {
                    number: s::NUMBER,
                    cap: s::CAP,
                    badge: s::BADGE,
                    info: s::INFO,
                    msg: s::MSG,
                    instruction_len: s::INSTRUCTION_LEN,
                    tls_base: s::TLS_BASE,
                }
            }
        }
    }

    /// The registers an UnknownSyscall fault message carries, in message order.
    pub const fn unknown_syscall_registers(self) -> &'static [usize] {
        match self {
            Arch::X86_64 => &crate::x86_64::fault::UNKNOWN_SYSCALL_REGISTERS,
            Arch::Riscv64 => &crate::riscv64::fault::UNKNOWN_SYSCALL_REGISTERS,
        }
    }

    /// The registers a UserException fault message carries, in message order.
    pub const fn user_exception_registers(self) -> &'static [usize] {
        match self {
            Arch::X86_64 => &crate::x86_64::fault::USER_EXCEPTION_REGISTERS,
            Arch::Riscv64 => &crate::riscv64::fault::USER_EXCEPTION_REGISTERS,
        }
    }

    /// `seL4_ObjectTypeCount`.
    pub const fn object_type_count(self) -> u64 {
        match self {
            Arch::X86_64 => crate::x86_64::object::COUNT,
            Arch::Riscv64 => crate::riscv64::object::COUNT,
        }
    }

    /// `seL4_MaxUntypedBits`.
    pub const fn max_untyped_bits(self) -> u8 {
        match self {
            Arch::X86_64 => crate::x86_64::MAX_UNTYPED_BITS,
            Arch::Riscv64 => crate::riscv64::MAX_UNTYPED_BITS,
        }
    }

    /// `seL4_NumASIDPoolsBits`.
    pub const fn num_asid_pools_bits(self) -> u8 {
        match self {
            Arch::X86_64 => crate::x86_64::NUM_ASID_POOLS_BITS,
            Arch::Riscv64 => crate::riscv64::NUM_ASID_POOLS_BITS,
        }
    }

    /// The number of ASID pools (`nASIDPools` = 2^`seL4_NumASIDPoolsBits`).
    pub const fn asid_pools(self) -> u64 {
        1 << self.num_asid_pools_bits()
    }

    /// The object-type number of a frame of 2^`bits` bytes (12, 21 or 30).
    pub const fn frame_type(self, bits: u8) -> u64 {
        use crate::object::bits as b;
        match (self, bits) {
            (Arch::X86_64, b::PAGE) => crate::x86_64::object::SMALL_PAGE,
            (Arch::X86_64, b::LARGE_PAGE) => crate::x86_64::object::LARGE_PAGE,
            (Arch::X86_64, _) => crate::x86_64::object::HUGE_PAGE,
            (Arch::Riscv64, b::PAGE) => crate::riscv64::object::SMALL_PAGE,
            (Arch::Riscv64, b::LARGE_PAGE) => crate::riscv64::object::MEGA_PAGE,
            (Arch::Riscv64, _) => crate::riscv64::object::GIGA_PAGE,
        }
    }

    /// The object-type number of a paging structure that can be a VSpace root.
    pub const fn vspace_root_type(self) -> u64 {
        match self {
            Arch::X86_64 => crate::x86_64::object::PML4,
            Arch::Riscv64 => crate::riscv64::object::PAGE_TABLE,
        }
    }

    /// The labels of the invocations both arches have under different numbers.
    pub const fn labels(self) -> ArchLabels {
        match self {
            Arch::X86_64 => {
                use crate::x86_64::label as l;
                ArchLabels {
                    page_map: l::PAGE_MAP,
                    page_unmap: l::PAGE_UNMAP,
                    page_get_address: l::PAGE_GET_ADDRESS,
                    asid_control_make_pool: l::ASID_CONTROL_MAKE_POOL,
                    asid_pool_assign: l::ASID_POOL_ASSIGN,
                }
            }
            Arch::Riscv64 => {
                use crate::riscv64::label as l;
                ArchLabels {
                    page_map: l::PAGE_MAP,
                    page_unmap: l::PAGE_UNMAP,
                    page_get_address: l::PAGE_GET_ADDRESS,
                    asid_control_make_pool: l::ASID_CONTROL_MAKE_POOL,
                    asid_pool_assign: l::ASID_POOL_ASSIGN,
                }
            }
        }
    }

    /// `seL4_UserTop`.
    pub const fn user_top(self) -> u64 {
        match self {
            Arch::X86_64 => crate::x86_64::USER_TOP,
            Arch::Riscv64 => crate::riscv64::USER_TOP,
        }
    }
}

/// Where one arch puts a system call's arguments and results, as indices in
/// `seL4_UserContext` order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct SyscallRegisters {
    /// The system-call number.
    pub number: usize,
    /// The cap.
    pub cap: usize,
    /// The badge of a received message.
    pub badge: usize,
    /// The MessageInfo.
    pub info: usize,
    /// Message words 0..4.
    pub msg: [usize; 4],
    /// The length of the system-call instruction.
    pub instruction_len: u64,
    /// The TLS base register.
    pub tls_base: usize,
}

/// The labels of the invocations both arches have under different numbers.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ArchLabels {
    /// Page Map.
    pub page_map: u64,
    /// Page Unmap.
    pub page_unmap: u64,
    /// Page GetAddress.
    pub page_get_address: u64,
    /// ASIDControl MakePool.
    pub asid_control_make_pool: u64,
    /// ASIDPool Assign.
    pub asid_pool_assign: u64,
}
