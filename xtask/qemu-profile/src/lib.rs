//! A QEMU TCG plugin (QEMU's plugin API version 1, as QEMU 7.2 has it) that counts how many
//! times each translation block runs, with no per-instruction callback: each block gets an
//! inline `add 1` to its own counter. At exit it writes one line per block that ran,
//! `VADDR INSNS COUNT` (hex, decimal, decimal), to the file its `out=PATH` argument names, so
//! that guest instructions can be attributed to the functions of the guest's ELF.
//!
//! Under `-icount`, a block that an interrupt cuts short still counts whole; a `rep` string
//! instruction counts once per iteration (TCG runs it as a one-instruction block per
//! iteration), which is also how `-icount` counts it.
//!
//! The plugin is loaded by QEMU (`-plugin PATH,arg=out=FILE`), so its entry points are C
//! functions, and the QEMU functions it calls are resolved when QEMU loads it: every `unsafe`
//! here is that boundary.

use std::collections::HashMap;
use std::ffi::{CStr, c_char, c_int, c_void};
use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// `qemu_plugin_id_t`.
type PluginId = u64;

/// `struct qemu_plugin_tb`, opaque.
#[repr(C)]
struct Tb {
    _opaque: [u8; 0],
}

/// `QEMU_PLUGIN_INLINE_ADD_U64`.
const INLINE_ADD_U64: c_int = 0;

unsafe extern "C" {
    fn qemu_plugin_register_vcpu_tb_trans_cb(id: PluginId, cb: extern "C" fn(PluginId, *mut Tb));
    fn qemu_plugin_tb_n_insns(tb: *const Tb) -> usize;
    fn qemu_plugin_tb_vaddr(tb: *const Tb) -> u64;
    fn qemu_plugin_register_vcpu_tb_exec_inline(tb: *mut Tb, op: c_int, ptr: *mut c_void, imm: u64);
    fn qemu_plugin_register_atexit_cb(
        id: PluginId,
        cb: extern "C" fn(PluginId, *mut c_void),
        data: *mut c_void,
    );
}

/// The plugin API version this plugin was written against (QEMU checks it at load).
#[unsafe(no_mangle)]
pub static qemu_plugin_version: c_int = 1;

/// What the plugin keeps: a counter per block (by address and length: a block translated
/// again with the same extent shares its counter) and where to write them.
struct Profile {
    counters: HashMap<(u64, usize), &'static AtomicU64>,
    out: String,
}

static PROFILE: Mutex<Option<Profile>> = Mutex::new(None);

/// QEMU calls this once when it loads the plugin: `argv` holds the `arg=` values.
///
/// # Safety
/// QEMU passes `argc` valid NUL-terminated strings in `argv`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qemu_plugin_install(
    id: PluginId,
    _info: *const c_void,
    argc: c_int,
    argv: *const *const c_char,
) -> c_int {
    let mut out = String::from("qemu-tb-profile.txt");
    for i in 0..argc.max(0) as usize {
        // SAFETY: QEMU hands the plugin `argc` valid C strings (see above).
        let arg = unsafe { CStr::from_ptr(*argv.add(i)) }.to_string_lossy();
        if let Some(path) = arg.strip_prefix("out=") {
            out = path.to_string();
        }
    }
    *PROFILE.lock().unwrap_or_else(|e| e.into_inner()) = Some(Profile { counters: HashMap::new(), out });
    // SAFETY: plain calls into QEMU's plugin API with this plugin's id and callbacks that live
    // as long as the process.
    unsafe {
        qemu_plugin_register_vcpu_tb_trans_cb(id, translated);
        qemu_plugin_register_atexit_cb(id, at_exit, std::ptr::null_mut());
    }
    0
}

/// A block was translated: its counter (made the first time) gets an inline add per run.
extern "C" fn translated(_id: PluginId, tb: *mut Tb) {
    // SAFETY: `tb` is the block QEMU is translating, valid during this callback.
    let (vaddr, insns) = unsafe { (qemu_plugin_tb_vaddr(tb), qemu_plugin_tb_n_insns(tb)) };
    let mut guard = PROFILE.lock().unwrap_or_else(|e| e.into_inner());
    let Some(profile) = guard.as_mut() else { return };
    let counter: &'static AtomicU64 =
        profile.counters.entry((vaddr, insns)).or_insert_with(|| Box::leak(Box::new(AtomicU64::new(0))));
    // SAFETY: the counter is leaked, so it outlives every run of the generated code that adds
    // to it; QEMU adds with a plain 64-bit add, and the counter is read only at exit.
    unsafe { qemu_plugin_register_vcpu_tb_exec_inline(tb, INLINE_ADD_U64, counter.as_ptr().cast(), 1) };
}

/// QEMU exits: every block that ran, to the output file.
extern "C" fn at_exit(_id: PluginId, _data: *mut c_void) {
    let guard = PROFILE.lock().unwrap_or_else(|e| e.into_inner());
    let Some(profile) = guard.as_ref() else { return };
    let mut text = String::new();
    for (&(vaddr, insns), counter) in &profile.counters {
        let count = counter.load(Ordering::Relaxed);
        if count > 0 {
            text.push_str(&format!("{vaddr:x} {insns} {count}\n"));
        }
    }
    if let Err(e) = std::fs::File::create(&profile.out).and_then(|mut f| f.write_all(text.as_bytes())) {
        eprintln!("qemu-tb-profile: cannot write {}: {e}", profile.out);
    }
}
