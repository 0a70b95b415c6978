//! IRQHandler invocations (Ack, SetNotification, Clear) and interrupt delivery as gears: a
//! device interrupt becomes a signal on the handler's notification and stays masked until the
//! driver thread acknowledges it, so a user-space driver waits on a notification; the timer's
//! ticks rotate the threads of one priority (time slices).

use abi::{CapRights, label};
use codegears::SyscallError;
use codegears::entry::Event;
use codegears::interrupt::{IRQ_TIMER, TIME_SLICE};
use codegears::kernel::Done;
use codegears::object::ThreadState;
use gears_tests::sel4::{Sel4, WORD_BITS};

/// Raises `irq` on the kernel: the `handle_interrupt` gear with the invariant checker.
fn interrupt(s: &mut Sel4, irq: u16) {
    assert_eq!(s.enter_checked(Event::Interrupt(irq)), Ok(Done::Ok));
}

fn handler(s: &mut Sel4, irq: u64) -> u64 {
    let slot = s.free_slot();
    let r = s.root();
    let ctl = abi::bootinfo::CAP_IRQ_CONTROL;
    assert_eq!(s.invoke(ctl, label::irq_control::ISSUE_IRQ_HANDLER, &[irq, slot, WORD_BITS], &[r]), Ok(()));
    slot
}

fn irq_call(s: &mut Sel4, h: u64, lbl: u64, extra: &[u64]) -> Result<Done, SyscallError> {
    s.tcb_invoke(h, lbl, &[], extra)
}

#[test]
fn a_driver_thread_waits_for_its_interrupt() {
    let mut s = Sel4::boot(10, &[20, 22]);
    let h = handler(&mut s, 5);
    let ntfn = s.alloc_notification();
    let badged = s.mint(ntfn, CapRights::ALL, 0b10);
    let (_, driver) = s.spawn(200);
    assert_eq!(irq_call(&mut s, h, label::irq_handler::SET_NOTIFICATION, &[badged]), Ok(Done::Ok));
    // The driver waits; the device interrupts; the driver wakes with the badge.
    assert_eq!(s.as_thread(driver, |s| s.wait(ntfn)), Ok(Done::Blocked));
    interrupt(&mut s, 5);
    assert_eq!(s.state(driver), ThreadState::Running);
    assert_eq!(s.received(driver).1, 0b10);
    // Masked until acknowledged: a second interrupt is not delivered.
    assert_eq!(s.as_thread(driver, |s| s.wait(ntfn)), Ok(Done::Blocked));
    interrupt(&mut s, 5);
    assert!(matches!(s.state(driver), ThreadState::BlockedOnNotification { .. }));
    assert!(s.k.state.irqs.masked.contains(&5));
    // The driver's handler cap acknowledges it (the root acks here, holding the same cap).
    assert_eq!(irq_call(&mut s, h, label::irq_handler::ACK, &[]), Ok(Done::Ok));
    interrupt(&mut s, 5);
    assert_eq!(s.state(driver), ThreadState::Running);
    // Cleared, the IRQ signals nothing; an interrupt on an IRQ nobody handles is ignored.
    assert_eq!(irq_call(&mut s, h, label::irq_handler::ACK, &[]), Ok(Done::Ok));
    assert_eq!(irq_call(&mut s, h, label::irq_handler::CLEAR, &[]), Ok(Done::Ok));
    assert_eq!(s.as_thread(driver, |s| s.wait(ntfn)), Ok(Done::Blocked));
    interrupt(&mut s, 5);
    interrupt(&mut s, 9);
    assert!(matches!(s.state(driver), ThreadState::BlockedOnNotification { .. }));
}

#[test]
fn set_notification_needs_a_notification_with_write() {
    let mut s = Sel4::boot(10, &[20, 22]);
    let h = handler(&mut s, 3);
    let ntfn = s.alloc_notification();
    let ep = s.alloc_endpoint();
    let no_write = s.mint(ntfn, CapRights { write: false, ..CapRights::ALL }, 0);
    assert_eq!(
        irq_call(&mut s, h, label::irq_handler::SET_NOTIFICATION, &[]),
        Err(SyscallError::TruncatedMessage)
    );
    assert_eq!(
        irq_call(&mut s, h, label::irq_handler::SET_NOTIFICATION, &[ep]),
        Err(SyscallError::InvalidCapability { cap: 0 })
    );
    assert_eq!(
        irq_call(&mut s, h, label::irq_handler::SET_NOTIFICATION, &[no_write]),
        Err(SyscallError::InvalidCapability { cap: 0 })
    );
    assert_eq!(irq_call(&mut s, h, label::irq_handler::SET_NOTIFICATION, &[ntfn]), Ok(Done::Ok));
    assert_eq!(irq_call(&mut s, h, 99, &[]), Err(SyscallError::IllegalOperation));
    // Deleting the notification stops the IRQ signalling it; deleting the handler deactivates it.
    let r = s.root();
    assert_eq!(s.cnode_delete(r, no_write, WORD_BITS), Ok(()));
    assert_eq!(s.cnode_delete(r, ntfn, WORD_BITS), Ok(()));
    assert!(s.k.state.irqs.notification.is_empty());
    assert_eq!(s.cnode_delete(r, h, WORD_BITS), Ok(()));
    assert!(!s.k.state.irqs.active.contains(&3));
}

#[test]
fn timer_ticks_rotate_a_priority() {
    let mut s = Sel4::boot(10, &[20, 22]);
    let root = s.info.root_tcb;
    let (_, a) = s.spawn(255);
    let (_, b) = s.spawn(255);
    let mut order = Vec::new();
    for _ in 0..3 * TIME_SLICE {
        order.push(s.running().unwrap());
        interrupt(&mut s, IRQ_TIMER);
    }
    let slice = TIME_SLICE as usize;
    assert!(order[..slice].iter().all(|&t| t == root));
    assert!(order[slice..2 * slice].iter().all(|&t| t == a));
    assert!(order[2 * slice..].iter().all(|&t| t == b));
    assert_eq!(s.running(), Some(root), "round robin");
}

#[test]
fn a_user_driver_gets_the_timer_tick_through_its_notification() {
    let mut s = Sel4::boot(10, &[20, 22]);
    let h = handler(&mut s, u64::from(IRQ_TIMER));
    let ntfn = s.alloc_notification();
    let badged = s.mint(ntfn, CapRights::ALL, 0x40);
    assert_eq!(irq_call(&mut s, h, label::irq_handler::SET_NOTIFICATION, &[badged]), Ok(Done::Ok));
    let (_, driver) = s.spawn(255);
    assert_eq!(s.as_thread(driver, |s| s.wait(ntfn)), Ok(Done::Blocked));
    interrupt(&mut s, IRQ_TIMER);
    assert_eq!(s.state(driver), ThreadState::Running, "the tick woke the driver");
    assert_eq!(s.k.state.objects.tcb(driver).badge(s.k.state.arch), 0x40);
    // Masked until the driver acknowledges: the next tick still counts time slices, but
    // signals nothing.
    assert_eq!(s.as_thread(driver, |s| s.wait(ntfn)), Ok(Done::Blocked));
    interrupt(&mut s, IRQ_TIMER);
    assert!(matches!(s.state(driver), ThreadState::BlockedOnNotification { .. }));
    assert_eq!(irq_call(&mut s, h, label::irq_handler::ACK, &[]), Ok(Done::Ok));
    interrupt(&mut s, IRQ_TIMER);
    assert_eq!(s.state(driver), ThreadState::Running, "acknowledged: the next tick wakes it");
}

#[test]
fn irq_lines_are_unmasked_at_issue_and_ack_and_masked_on_delivery_and_delete() {
    use codegears::machine::MachineOp;
    let mut s = Sel4::boot(10, &[20, 22]);
    let h = handler(&mut s, 7);
    let ntfn = s.alloc_notification();
    assert_eq!(irq_call(&mut s, h, label::irq_handler::SET_NOTIFICATION, &[ntfn]), Ok(Done::Ok));
    let mask = |masked| MachineOp::MaskIrq { irq: 7, masked };
    assert_eq!(s.machine_ops, [mask(false)], "IssueIRQHandler unmasks the line");
    s.machine_ops.clear();
    interrupt(&mut s, 7);
    assert_eq!(s.machine_ops, [mask(true)], "delivered: masked until acknowledged");
    s.machine_ops.clear();
    assert_eq!(irq_call(&mut s, h, label::irq_handler::ACK, &[]), Ok(Done::Ok));
    assert_eq!(s.machine_ops, [mask(false)], "Ack unmasks it");
    s.machine_ops.clear();
    // An interrupt on a line nobody handles changes no line.
    interrupt(&mut s, 9);
    assert!(s.machine_ops.is_empty());
    let r = s.root();
    assert_eq!(s.cnode_delete(r, h, WORD_BITS), Ok(()));
    assert_eq!(s.machine_ops, [mask(true)], "deleting the handler masks the line");
}
