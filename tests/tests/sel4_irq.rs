//! IRQControl IssueIRQHandler and the life of IRQ handler caps: an IRQ is active exactly while a
//! handler cap names it (the invariant checker enforces it at every step of these tests).

use abi::label;
use codegears::{Cap, LookupFault, SyscallError};
use gears_tests::sel4::{Sel4, WORD_BITS};

fn issue(s: &mut Sel4, irq: u64, dest: u64) -> Result<(), SyscallError> {
    let r = s.root();
    s.invoke(
        abi::bootinfo::CAP_IRQ_CONTROL,
        label::irq_control::ISSUE_IRQ_HANDLER,
        &[irq, dest, WORD_BITS],
        &[r],
    )
}

#[test]
fn issue_irq_handler_and_its_errors() {
    let mut s = Sel4::boot(10, &[20]);
    let (h, h2) = (s.free_slot(), s.free_slot());
    assert_eq!(issue(&mut s, 5, h), Ok(()));
    assert_eq!(s.cap(h), Cap::IrqHandler { irq: 5 });
    assert!(s.k.state.irqs.active.contains(&5));
    assert_eq!(issue(&mut s, 5, h2), Err(SyscallError::RevokeFirst), "already active");
    // x86_64 issues the PIC's ISA lines only (Arch_checkIRQ); riscv64 the PLIC's sources.
    assert_eq!(issue(&mut s, 16, h2), Err(SyscallError::RangeError { min: 0, max: 15 }));
    assert_eq!(issue(&mut s, u64::MAX, h2), Err(SyscallError::RangeError { min: 0, max: 15 }));
    let mut rv = Sel4::boot_arch(abi::Arch::Riscv64);
    let slot = rv.free_slot();
    assert_eq!(issue(&mut rv, 128, slot), Err(SyscallError::RangeError { min: 0, max: 127 }));
    assert_eq!(issue(&mut rv, 127, slot), Ok(()));
    assert_eq!(issue(&mut s, 6, h), Err(SyscallError::DeleteFirst));
    let r = s.root();
    assert_eq!(
        s.invoke(abi::bootinfo::CAP_IRQ_CONTROL, label::irq_control::ISSUE_IRQ_HANDLER, &[6, h2, 32], &[r]),
        Err(SyscallError::FailedLookup {
            source: false,
            fault: LookupFault::GuardMismatch { bits_left: 32, guard_found: 0, guard_size: 54 }
        })
    );
    assert_eq!(
        s.invoke(abi::bootinfo::CAP_IRQ_CONTROL, label::irq_control::ISSUE_IRQ_HANDLER, &[6, h2], &[r]),
        Err(SyscallError::TruncatedMessage)
    );
    assert_eq!(
        s.invoke(abi::bootinfo::CAP_IRQ_CONTROL, label::irq_control::ISSUE_IRQ_HANDLER, &[6, h2, 64], &[]),
        Err(SyscallError::TruncatedMessage)
    );
    assert_eq!(
        s.invoke(abi::bootinfo::CAP_IRQ_CONTROL, label::cnode::COPY, &[6, h2, 64], &[r]),
        Err(SyscallError::IllegalOperation)
    );
    // IRQControl itself cannot be copied (deriveCap gives Null).
    assert_eq!(s.copy(abi::bootinfo::CAP_IRQ_CONTROL, h2), Err(SyscallError::IllegalOperation));
}

#[test]
fn the_last_handler_cap_deactivates_the_irq() {
    let mut s = Sel4::boot(10, &[20]);
    let r = s.root();
    let (h, c) = (s.free_slot(), s.free_slot());
    assert_eq!(issue(&mut s, 9, h), Ok(()));
    assert_eq!(s.copy(h, c), Ok(()));
    assert_eq!(s.cnode_delete(r, h, WORD_BITS), Ok(()));
    assert!(s.k.state.irqs.active.contains(&9), "a copy still names it");
    assert_eq!(s.cnode_delete(r, c, WORD_BITS), Ok(()));
    assert!(!s.k.state.irqs.active.contains(&9));
    assert_eq!(issue(&mut s, 9, h), Ok(()), "free again");
    // Revoking IRQControl deletes every handler cap.
    let h3 = s.free_slot();
    assert_eq!(issue(&mut s, 10, h3), Ok(()));
    assert_eq!(s.cnode_revoke(r, abi::bootinfo::CAP_IRQ_CONTROL, WORD_BITS), Ok(()));
    assert!(s.k.state.irqs.active.is_empty());
    assert!(s.is_slot_empty(h) && s.is_slot_empty(h3));
}

/// x86_64's IssueIRQHandlerMSI(index, depth, bus, dev, func, handle, irq): the handler is for
/// IRQ irq + 16 (vector irq + 0x30), with seL4's checks in seL4's order; IssueIRQHandlerIOAPIC
/// is IllegalOperation (Gears drives no IOAPIC), after the same common checks.
#[test]
fn x86_msi_and_ioapic_handlers() {
    use abi::x86_64::label::{IRQ_ISSUE_IRQ_HANDLER_IOAPIC as IOAPIC, IRQ_ISSUE_IRQ_HANDLER_MSI as MSI};
    let mut s = Sel4::boot(10, &[20]);
    let r = s.root();
    let ctl = abi::bootinfo::CAP_IRQ_CONTROL;
    let (h, h2) = (s.free_slot(), s.free_slot());
    let msi = |s: &mut Sel4, slot: u64, pci: [u64; 3], irq: u64| {
        s.invoke(ctl, MSI, &[slot, WORD_BITS, pci[0], pci[1], pci[2], 0, irq], &[r])
    };
    assert_eq!(msi(&mut s, h, [0, 4, 0], 3), Ok(()));
    assert_eq!(s.cap(h), Cap::IrqHandler { irq: 19 });
    assert!(s.k.state.irqs.active.contains(&19));
    assert_eq!(msi(&mut s, h2, [0, 4, 0], 3), Err(SyscallError::RevokeFirst), "already active");
    assert_eq!(msi(&mut s, h2, [0, 4, 0], 108), Err(SyscallError::RangeError { min: 0, max: 107 }));
    assert_eq!(msi(&mut s, h, [0, 4, 0], 4), Err(SyscallError::DeleteFirst));
    assert_eq!(msi(&mut s, h2, [256, 4, 0], 4), Err(SyscallError::RangeError { min: 0, max: 255 }));
    assert_eq!(msi(&mut s, h2, [0, 32, 0], 4), Err(SyscallError::RangeError { min: 0, max: 31 }));
    assert_eq!(msi(&mut s, h2, [0, 4, 8], 4), Err(SyscallError::RangeError { min: 0, max: 7 }));
    assert_eq!(
        s.invoke(ctl, MSI, &[h2, WORD_BITS, 0, 4, 0, 0], &[r]),
        Err(SyscallError::TruncatedMessage),
        "six words"
    );
    assert_eq!(
        s.invoke(ctl, IOAPIC, &[h2, WORD_BITS, 0, 2, 0, 0, 4], &[r]),
        Err(SyscallError::IllegalOperation)
    );
    assert!(s.is_slot_empty(h2));
    assert_eq!(msi(&mut s, h2, [0, 4, 0], 107), Ok(()));
    assert_eq!(s.cap(h2), Cap::IrqHandler { irq: 123 });
    // riscv64 has neither label.
    let mut rv = Sel4::boot_arch(abi::Arch::Riscv64);
    let (slot, rr) = (rv.free_slot(), rv.root());
    assert_eq!(
        rv.invoke(ctl, MSI, &[slot, WORD_BITS, 0, 4, 0, 0, 3], &[rr]),
        Err(SyscallError::IllegalOperation)
    );
}
