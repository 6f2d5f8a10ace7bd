//! Seeded randomness: one world seed, from which every named stream is derived (ChaCha8), so a component's draws
//! never shift another's and the same seed replays byte for byte.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

/// A random stream derived from the world seed.
pub type Stream = ChaCha8Rng;

/// The world's randomness: only a seed; streams are derived by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorldRng {
    seed: u64,
}

/// FNV-1a: a stable string hash (std's hasher is randomized per process).
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// SplitMix64 finalizer: spreads the combined seed over all bits.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl WorldRng {
    pub fn new(seed: u64) -> Self {
        WorldRng { seed }
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The stream named `name` (for example `kubelet`, `informer/backup-schedule/Backup`).
    pub fn stream(&self, name: &str) -> Stream {
        ChaCha8Rng::seed_from_u64(mix(self.seed ^ fnv1a(name)))
    }
}

/// A duration drawn uniformly from `[lo, hi]` (millisecond resolution).
pub fn draw(rng: &mut Stream, lo: Duration, hi: Duration) -> Duration {
    let (lo, hi) = (lo.as_millis() as u64, hi.as_millis() as u64);
    if hi <= lo {
        return Duration::from_millis(lo);
    }
    Duration::from_millis(rng.random_range(lo..=hi))
}

/// True with probability `p`.
pub fn chance(rng: &mut Stream, p: f64) -> bool {
    p > 0.0 && (p >= 1.0 || rng.random_bool(p))
}

/// A lowercase alphanumeric suffix like the ones Kubernetes appends to generated names.
pub fn suffix(rng: &mut Stream, len: usize) -> String {
    const CHARS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..len).map(|_| CHARS[rng.random_range(0..CHARS.len())] as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn streams_are_stable_and_independent() {
        let w = WorldRng::new(7);
        let a1 = w.stream("a").next_u64();
        let a2 = w.stream("a").next_u64();
        let b = w.stream("b").next_u64();
        assert_eq!(a1, a2);
        assert_ne!(a1, b);
        assert_ne!(WorldRng::new(8).stream("a").next_u64(), a1);
    }

    #[test]
    fn draws_stay_in_range() {
        let mut r = WorldRng::new(1).stream("x");
        for _ in 0..1000 {
            let d = draw(&mut r, Duration::from_secs(1), Duration::from_secs(20));
            assert!(d >= Duration::from_secs(1) && d <= Duration::from_secs(20));
        }
    }
}
