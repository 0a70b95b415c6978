//! The fuzzer's randomness: SplitMix64, seeded per call from the run's seed and the call's
//! index, so call `i` is the same call in every run with the same seed, however many restarts
//! came before it.

/// SplitMix64's finaliser: a bijective mix of all 64 bits.
const fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// SplitMix64's increment (the golden ratio in 64 bits).
const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// A SplitMix64 generator.
pub struct Rng(u64);

impl Rng {
    /// The generator of call `index` of the run with `seed`.
    pub fn for_call(seed: u64, index: u64) -> Rng {
        Rng(mix(seed ^ mix(index.wrapping_add(GAMMA))))
    }

    /// The next 64 random bits.
    pub fn word(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GAMMA);
        mix(self.0)
    }

    /// A number in `0..n` (`n` > 0; the modulo bias is irrelevant here).
    pub fn below(&mut self, n: u64) -> u64 {
        self.word() % n
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// One of `xs` (not empty).
    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
}

/// Parses a decimal or `0x` hexadecimal number at compile time: the build-time settings the
/// xtask passes in the environment. A malformed one stops the build.
pub const fn parse(s: Option<&str>, default: u64) -> u64 {
    let Some(s) = s else { return default };
    let b = s.as_bytes();
    let (radix, mut i) =
        if b.len() > 2 && b[0] == b'0' && (b[1] == b'x' || b[1] == b'X') { (16, 2) } else { (10, 0) };
    assert!(i < b.len(), "a GEARS_FUZZ_* setting is empty");
    let mut v: u64 = 0;
    while i < b.len() {
        let d = match b[i] {
            c @ b'0'..=b'9' => (c - b'0') as u64,
            c @ b'a'..=b'f' if radix == 16 => (c - b'a' + 10) as u64,
            c @ b'A'..=b'F' if radix == 16 => (c - b'A' + 10) as u64,
            b'_' => {
                i += 1;
                continue;
            }
            _ => panic!("a GEARS_FUZZ_* setting is not a number"),
        };
        v = match v.checked_mul(radix) {
            Some(m) => match m.checked_add(d) {
                Some(x) => x,
                None => panic!("a GEARS_FUZZ_* setting is too large"),
            },
            None => panic!("a GEARS_FUZZ_* setting is too large"),
        };
        i += 1;
    }
    v
}

const _: () = assert!(parse(Some("0x10"), 0) == 16 && parse(Some("1_000"), 0) == 1000 && parse(None, 7) == 7);
