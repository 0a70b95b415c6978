//! Physical memory as the kernel reaches it, a word at a time: the kernel window seL4 reads and
//! writes IPC buffers through (`lookupIPCBuffer` gives a kernel pointer into the buffer's frame).
//!
//! The gears that move a message (`copyMRs`, `setMR`, `transferCaps`, the fault messages) read
//! and write the words of threads' IPC buffers here, at the physical addresses their buffer
//! frames give. Two backings: the host model's [`PhysMem::new`] keeps the pages written so far
//! (plain data: cloned, compared and hashed with the rest of the kernel state, a page of zeros
//! equal to one never written), and the bare-metal kernel's [`PhysMem::window`] reaches its RAM
//! through the slices its arch layer hands over once at boot.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::hash::{BuildHasher, Hash, Hasher};
use core::sync::atomic::{AtomicU64, Ordering};

use foldhash::fast::FixedState;
use hashbrown::HashMap;

/// Words in a 4 KiB page.
pub const PAGE_WORDS: usize = 512;
/// log2 of a page's size.
const PAGE_SHIFT: u32 = 12;

/// One page of [`PhysMem`], found once and read a word at a time.
#[derive(Clone, Copy, Debug)]
pub enum PageRef<'a> {
    /// A page the host model wrote.
    Host(&'a [u64; PAGE_WORDS]),
    /// A page of the machine's RAM.
    Machine(&'a [AtomicU64]),
    /// A page that reads as zero (never written, or outside the RAM windows).
    Zero,
}

impl PageRef<'_> {
    /// Word `i` (0..512) of the page.
    #[inline]
    pub fn word(&self, i: usize) -> u64 {
        match self {
            PageRef::Host(p) => p[i],
            PageRef::Machine(w) => w[i].load(Ordering::Relaxed),
            PageRef::Zero => 0,
        }
    }
}

/// A run of RAM the kernel maps: physical address `base` is `words[0]`.
#[derive(Clone, Copy, Debug)]
pub struct RamWindow {
    /// The physical address of the first word.
    pub base: u64,
    /// The words, as the kernel reaches them.
    pub words: &'static [AtomicU64],
}

#[derive(Clone)]
enum Backing {
    /// The pages written so far, by page number, in a hash table with a fixed seed (a word is
    /// reached in constant time however many pages there are); every other word reads as zero.
    Pages(Pages),
    /// The machine's RAM (a word outside every window reads as zero, and a write there is
    /// dropped: device memory is no place for an IPC buffer).
    Windows(&'static [RamWindow]),
}

/// Physical memory, word-addressed (8-byte aligned physical addresses; the low three bits of an
/// address are ignored).
#[derive(Clone)]
pub struct PhysMem {
    backing: Backing,
}

impl Default for PhysMem {
    fn default() -> Self {
        PhysMem::new()
    }
}

impl PhysMem {
    /// Memory that reads as zero everywhere until written (the host model).
    pub fn new() -> PhysMem {
        PhysMem { backing: Backing::Pages(HashMap::with_hasher(FixedState::default())) }
    }

    /// The machine's RAM, as the windows the kernel maps (the bare-metal kernel).
    pub fn window(windows: &'static [RamWindow]) -> PhysMem {
        PhysMem { backing: Backing::Windows(windows) }
    }

    /// The word at physical address `paddr`.
    #[inline]
    pub fn read(&self, paddr: u64) -> u64 {
        match &self.backing {
            Backing::Windows(w) => find(w, paddr).map_or(0, |a| a.load(Ordering::Relaxed)),
            Backing::Pages(pages) => page_read(pages, paddr),
        }
    }

    /// Writes the word at physical address `paddr`.
    #[inline]
    pub fn write(&mut self, paddr: u64, value: u64) {
        match &mut self.backing {
            Backing::Windows(w) => {
                if let Some(a) = find(w, paddr) {
                    a.store(value, Ordering::Relaxed);
                }
            }
            Backing::Pages(pages) => page_write(pages, paddr, &[value]),
        }
    }

    /// Sets the 2^`bits` bytes at `paddr` (aligned to their size) to zero.
    pub fn zero(&mut self, paddr: u64, bits: u8) {
        if let Backing::Windows(w) = &self.backing {
            let end = paddr.saturating_add(1u64 << bits.min(63));
            for win in w.iter() {
                let top = win.base + (win.words.len() as u64) * 8;
                let (from, to) = (paddr.max(win.base), end.min(top));
                if from < to {
                    let (i, j) = (((from - win.base) >> 3) as usize, ((to - win.base) >> 3) as usize);
                    win.words[i..j].iter().for_each(|a| a.store(0, Ordering::Relaxed));
                }
            }
        }
        if let Backing::Pages(pages) = &mut self.backing {
            let (first, count) = if u32::from(bits) >= PAGE_SHIFT {
                (paddr >> PAGE_SHIFT, 1u64 << (u32::from(bits) - PAGE_SHIFT))
            } else {
                let words = 1usize << bits.saturating_sub(3);
                let at = ((paddr >> 3) as usize) & (PAGE_WORDS - 1);
                if let Some(p) = pages.get_mut(&(paddr >> PAGE_SHIFT)) {
                    Arc::make_mut(p)[at..(at + words).min(PAGE_WORDS)].fill(0);
                }
                return;
            };
            let end = first.saturating_add(count);
            if count <= pages.len() as u64 {
                (first..end).for_each(|k| {
                    pages.remove(&k);
                });
            } else {
                pages.retain(|k, _| !(first..end).contains(k));
            }
        }
    }

    /// The page numbers of `[from, to)` that may hold a non-zero word, in order: the pages
    /// written so far (the host model), or every page of a RAM window (the machine).
    pub fn pages_in(&self, from: u64, to: u64) -> Vec<u64> {
        if from >= to {
            return Vec::new();
        }
        let (first, last) = (from >> PAGE_SHIFT, (to - 1) >> PAGE_SHIFT);
        match &self.backing {
            Backing::Pages(pages) => {
                let mut v: Vec<u64> = if last - first < pages.len() as u64 {
                    (first..=last).filter(|k| pages.contains_key(k)).collect()
                } else {
                    pages.keys().copied().filter(|k| (first..=last).contains(k)).collect()
                };
                v.sort_unstable();
                v
            }
            Backing::Windows(w) => {
                let mut v: Vec<u64> = w
                    .iter()
                    .flat_map(|win| {
                        let top = win.base + (win.words.len() as u64) * 8;
                        let lo = first.max(win.base >> PAGE_SHIFT);
                        let hi = last.min(top.saturating_sub(1) >> PAGE_SHIFT);
                        if top > win.base { lo..hi.saturating_add(1) } else { 0..0 }
                    })
                    .collect();
                v.sort_unstable();
                v.dedup();
                v
            }
        }
    }

    /// Page `page`, to read many of its words with one look-up.
    pub fn page(&self, page: u64) -> PageRef<'_> {
        match &self.backing {
            Backing::Pages(pages) => pages.get(&page).map_or(PageRef::Zero, |p| PageRef::Host(p)),
            Backing::Windows(w) => {
                let at = page << PAGE_SHIFT;
                w.iter()
                    .find_map(|win| {
                        let i = usize::try_from(at.checked_sub(win.base)? >> 3).ok()?;
                        win.words.get(i..i + PAGE_WORDS)
                    })
                    .map_or(PageRef::Zero, PageRef::Machine)
            }
        }
    }

    /// Whether this is the machine's RAM (as opposed to the host model's memory).
    pub fn is_window(&self) -> bool {
        matches!(self.backing, Backing::Windows(_))
    }

    /// The non-zero pages of a host-model memory, by page number, in order.
    fn nonzero_pages(&self) -> Vec<(u64, &[u64; PAGE_WORDS])> {
        let Backing::Pages(pages) = &self.backing else { return Vec::new() };
        let mut v: Vec<(u64, &[u64; PAGE_WORDS])> =
            pages.iter().filter(|(_, w)| w.iter().any(|&x| x != 0)).map(|(k, w)| (*k, &**w)).collect();
        v.sort_unstable_by_key(|(k, _)| *k);
        v
    }

    /// The `N` words at `paddr`, which lie in one page: one look-up for them all.
    #[inline]
    pub fn read_words<const N: usize>(&self, paddr: u64) -> [u64; N] {
        match &self.backing {
            Backing::Windows(w) => match window_words(w, paddr, N) {
                Some(words) => core::array::from_fn(|i| words[i].load(Ordering::Relaxed)),
                None => {
                    let mut out = [0; N];
                    self.read_across(paddr, &mut out);
                    out
                }
            },
            Backing::Pages(pages) => {
                let mut out = [0; N];
                page_read_words(pages, paddr, &mut out);
                out
            }
        }
    }

    /// Writes the `N` words at `paddr`, which lie in one page (as [`read_words`](Self::read_words)).
    #[inline]
    pub fn write_words<const N: usize>(&mut self, paddr: u64, words: [u64; N]) {
        match &mut self.backing {
            Backing::Windows(w) => match window_words(w, paddr, N) {
                Some(at) => at.iter().zip(words).for_each(|(a, x)| a.store(x, Ordering::Relaxed)),
                None => self.write_across(paddr, &words),
            },
            Backing::Pages(pages) => page_write(pages, paddr, &words),
        }
    }
}

impl PhysMem {
    /// Words that no one window holds (they straddle a window's end, or lie outside RAM), one at
    /// a time. Out of line: the kernel's objects never straddle.
    #[cold]
    #[inline(never)]
    fn read_across(&self, paddr: u64, out: &mut [u64]) {
        for (i, w) in out.iter_mut().enumerate() {
            *w = self.read(paddr + 8 * i as u64);
        }
    }

    /// Writes words that no one window holds, one at a time (see [`Self::read_across`]).
    #[cold]
    #[inline(never)]
    fn write_across(&mut self, paddr: u64, words: &[u64]) {
        for (i, &w) in words.iter().enumerate() {
            self.write(paddr + 8 * i as u64, w);
        }
    }
}

/// The host model's pages, by page number.
type Pages = HashMap<u64, Arc<[u64; PAGE_WORDS]>, FixedState>;

/// The host model's word at `paddr` (0 in a page never written). Out of line in the kernel, so
/// that the machine's reads, which never come here, inline to a few instructions; inline on the
/// host, where every access comes here.
#[cfg_attr(target_os = "none", inline(never))]
#[cfg_attr(not(target_os = "none"), inline)]
fn page_read(pages: &Pages, paddr: u64) -> u64 {
    pages.get(&(paddr >> PAGE_SHIFT)).map_or(0, |p| p[((paddr >> 3) as usize) & (PAGE_WORDS - 1)])
}

/// The host model's `out.len()` words at `paddr`, which lie in one page (inlined as
/// [`page_read`]).
#[cfg_attr(target_os = "none", inline(never))]
#[cfg_attr(not(target_os = "none"), inline)]
fn page_read_words(pages: &Pages, paddr: u64, out: &mut [u64]) {
    let at = ((paddr >> 3) as usize) & (PAGE_WORDS - 1);
    if let Some(p) = pages.get(&(paddr >> PAGE_SHIFT)) {
        out.copy_from_slice(&p[at..at + out.len()]);
    }
}

/// Writes the host model's words at `paddr`, which lie in one page (a page of zeros is not
/// made to hold zeros; inlined as [`page_read`]).
#[cfg_attr(target_os = "none", inline(never))]
#[cfg_attr(not(target_os = "none"), inline)]
fn page_write(pages: &mut Pages, paddr: u64, words: &[u64]) {
    let at = ((paddr >> 3) as usize) & (PAGE_WORDS - 1);
    match pages.get_mut(&(paddr >> PAGE_SHIFT)) {
        Some(p) => Arc::make_mut(p)[at..at + words.len()].copy_from_slice(words),
        None if words.iter().all(|&w| w == 0) => {}
        None => {
            let mut p = Arc::new([0; PAGE_WORDS]);
            Arc::make_mut(&mut p)[at..at + words.len()].copy_from_slice(words);
            pages.insert(paddr >> PAGE_SHIFT, p);
        }
    }
}

/// The `n` words at `paddr` when one window holds them all. The first window (the kernel puts
/// its largest first) is tried without a loop: nearly every word the kernel reads is there.
#[inline]
fn window_words(windows: &[RamWindow], paddr: u64, n: usize) -> Option<&'static [AtomicU64]> {
    let in_window = |w: &RamWindow| -> Option<&'static [AtomicU64]> {
        let off = usize::try_from(paddr.checked_sub(w.base)? >> 3).ok()?;
        w.words.get(off..off.checked_add(n)?)
    };
    match windows.split_first() {
        Some((first, rest)) => in_window(first).or_else(|| rest.iter().find_map(in_window)),
        None => None,
    }
}

#[inline]
fn find(windows: &[RamWindow], paddr: u64) -> Option<&'static AtomicU64> {
    window_words(windows, paddr, 1).and_then(|w| w.first())
}

/// Two memories are equal when every word reads the same (a host-model memory); the kernel's
/// RAM windows are equal when they are the same windows (they are never compared by content).
impl PartialEq for PhysMem {
    fn eq(&self, other: &Self) -> bool {
        match (&self.backing, &other.backing) {
            (Backing::Windows(a), Backing::Windows(b)) => core::ptr::eq(*a, *b),
            (Backing::Pages(_), Backing::Pages(_)) => self.nonzero_pages() == other.nonzero_pages(),
            _ => false,
        }
    }
}

impl Eq for PhysMem {}

impl Hash for PhysMem {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match &self.backing {
            // The pages' hashes added up: no sort, the same for equal memories.
            Backing::Pages(pages) => {
                let fixed = FixedState::default();
                let sum = pages
                    .iter()
                    .filter(|(_, w)| w.iter().any(|&x| x != 0))
                    .fold(0u64, |acc, (k, w)| acc.wrapping_add(fixed.hash_one((k, &**w))));
                state.write_u64(sum);
            }
            Backing::Windows(w) => w.iter().for_each(|w| w.base.hash(state)),
        }
    }
}

impl fmt::Debug for PhysMem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.backing {
            Backing::Pages(_) => {
                let mut m = f.debug_map();
                for (k, w) in self.nonzero_pages() {
                    for (i, &x) in w.iter().enumerate().filter(|(_, x)| **x != 0) {
                        m.entry(
                            &format_args!("{:#x}", (k << PAGE_SHIFT) + (i as u64) * 8),
                            &format_args!("{x:#x}"),
                        );
                    }
                }
                m.finish()
            }
            Backing::Windows(w) => write!(f, "PhysMem({} RAM windows)", w.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_read_back_and_zero_pages_are_absent() {
        let mut m = PhysMem::new();
        assert_eq!(m.read(0x1000), 0);
        m.write(0x1008, 7);
        assert_eq!((m.read(0x1008), m.read(0x1000)), (7, 0));
        let mut n = PhysMem::new();
        n.write(0x5000, 0);
        assert_eq!(n, PhysMem::new(), "writing zero where nothing was makes no page");
        m.write(0x1008, 0);
        assert_eq!(m, PhysMem::new(), "a page of zeros equals no page");
        m.write(0x2010, 3);
        m.zero(0x2000, 12);
        assert_eq!(m.read(0x2010), 0);
        m.write(0x3010, 3);
        m.write(0x3408, 4);
        m.zero(0x3000, 10);
        assert_eq!((m.read(0x3010), m.read(0x3408)), (0, 4));
    }

    #[test]
    fn windows_reach_only_their_words() {
        static WORDS: [AtomicU64; 4] = [const { AtomicU64::new(0) }; 4];
        static W: [RamWindow; 1] = [RamWindow { base: 0x8000, words: &WORDS }];
        let mut m = PhysMem::window(&W);
        m.write(0x8008, 9);
        m.write(0x9000, 9);
        assert_eq!((m.read(0x8008), m.read(0x9000), m.read(0x7ff8)), (9, 0, 0));
    }
}
