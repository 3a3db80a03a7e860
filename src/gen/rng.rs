//! A small deterministic random number generator (xorshift64*, seeded through splitmix64).
//! Each case, patient and the defect plan get their own stream derived from the seed, so a
//! value never depends on how many numbers an earlier record drew.

/// Stream tags: which family of values a stream serves.
pub(super) const CASES: u64 = 1;
pub(super) const PATIENTS: u64 = 2;
pub(super) const DEFECTS: u64 = 3;
pub(super) const PERSONS: u64 = 4;

/// xorshift64* state; never zero.
pub(super) struct Rng(u64);

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    /// The stream `index` of family `tag` under `seed`.
    pub(super) fn stream(seed: u64, tag: u64, index: u64) -> Self {
        let state = splitmix(splitmix(splitmix(seed) ^ tag) ^ index);
        Self(if state == 0 { 1 } else { state })
    }

    /// The next 64 random bits.
    pub(super) fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n` > 0; 0 when `n` is 0).
    pub(super) fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// A number in `low..=high`.
    pub(super) fn between(&mut self, low: u32, high: u32) -> u32 {
        let span = u64::from(high.saturating_sub(low)) + 1;
        low + u32::try_from(self.below(span)).unwrap_or(0)
    }

    /// True with probability `percent` / 100.
    pub(super) fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// An index into a slice of `len` items.
    pub(super) fn index(&mut self, len: usize) -> usize {
        usize::try_from(self.below(len as u64)).unwrap_or(0)
    }

    /// One item of a non-empty slice.
    pub(super) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn streams_are_deterministic_and_distinct() {
        let firsts: Vec<u64> = (0..4).map(|_| Rng::stream(7, 1, 0).next_u64()).collect();
        assert!(firsts.iter().all(|x| *x == firsts[0]));
        let mut one = Rng::stream(7, 1, 0);
        let mut other = Rng::stream(7, 1, 1);
        assert_ne!(one.next_u64(), other.next_u64());
        let mut rng = Rng::stream(1, 1, 1);
        for _ in 0..1000 {
            assert!((3..=5).contains(&rng.between(3, 5)));
        }
    }
}
