//! A minimal root task on gears-user: it prints what seL4's boot gave it, makes one object and
//! uses it, and suspends itself. Copy this directory to start your own (see the README's
//! "Writing your own root task").
#![no_std]
#![no_main]
#![deny(unsafe_code)]

use gears_user::bootinfo::ExtraChunks;
use gears_user::cap::{Notification, init_thread};
use gears_user::{BootInfo, CapRights, Error, Result, debug, entry, print, println};

// `_start`, a 64 KiB stack, and a call of `main` with the BootInfo.
gears_user::root_task!(main);

fn main(bi: &BootInfo) -> ! {
    println!("template: hello from the root task");
    println!(
        "template: CNode of 2^{} slots, empty slots {}..{}, IPC buffer at {:#x}",
        bi.cnode_size_bits(),
        bi.empty().start,
        bi.empty().end,
        bi.ipc_buffer()
    );
    let ram: u64 = bi.untypeds().filter(|u| !u.is_device).map(|u| u.size()).sum();
    let devices = bi.untypeds().filter(|u| u.is_device).count();
    println!(
        "template: {} image frames, {} untypeds: {} KiB of RAM, {devices} device regions",
        bi.user_image_frames().count(),
        bi.untypeds().count(),
        ram / 1024
    );
    print!("template: extra bootinfo chunks (id, bytes):");
    let mut chunks = 0;
    for (id, body) in ExtraChunks::new(entry::extra_boot_info()) {
        print!(" {id} ({})", body.len());
        chunks += 1;
    }
    println!("{}", if chunks == 0 { " none" } else { "" });
    match signal_and_poll(bi) {
        Ok(word) => println!("template: signalled a badged notification, then polled it: {word:#x}"),
        Err(e) => println!("template: the notification FAILED: {}", e.name()),
    }
    println!("template: done; suspending the root task");
    // With no thread left to run, Gears says so and its QEMU run ends.
    let _ = init_thread::TCB.suspend();
    debug::halt()
}

/// Makes a notification from untyped memory (Untyped Retype), mints a cap to it with badge 0x2a
/// (CNode Mint), signals through that cap and polls the notification: the badge comes back.
fn signal_and_poll(bi: &BootInfo) -> Result<u64> {
    let mut slots = bi.slot_allocator();
    let ut = bi.largest_ram_untyped().ok_or(Error::NotEnoughMemory)?.cap;
    let ntfn: Notification = ut.create(&mut slots)?;
    let badged = slots.alloc_slot().ok_or(Error::NotEnoughMemory)?;
    badged.mint(init_thread::slot(ntfn.cptr()), CapRights::ALL, 0x2a)?;
    Notification::from_cptr(badged.index).signal();
    Ok(ntfn.poll())
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    debug::panic_halt(info)
}
