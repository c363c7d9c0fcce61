//! A tiny deterministic random number generator (SplitMix64), so results are reproducible from
//! a seed on every machine without depending on a particular `rand` version.

/// SplitMix64.
///
/// ```
/// let mut a = songrec_storage::rng::SplitMix::new(7);
/// let mut b = songrec_storage::rng::SplitMix::new(7);
/// assert_eq!(a.next_u64(), b.next_u64());
/// let x = a.next_f64();
/// assert!((0.0..1.0).contains(&x));
/// ```
#[derive(Clone, Debug)]
pub struct SplitMix(u64);

impl SplitMix {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[-1, 1)`, as f32.
    pub fn next_signed(&mut self) -> f32 {
        (self.next_f64() * 2.0 - 1.0) as f32
    }

    /// Uniform index in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_f64() * n as f64) as usize).min(n.saturating_sub(1))
    }

    /// Approximately standard normal (sum of uniforms), enough for test data and initialisation.
    pub fn gauss(&mut self) -> f32 {
        let s: f64 = (0..12).map(|_| self.next_f64()).sum();
        (s - 6.0) as f32
    }

    /// `dim` numbers uniform in `[-1, 1)`.
    pub fn vector(&mut self, dim: usize) -> Vec<f32> {
        (0..dim).map(|_| self.next_signed()).collect()
    }
}

/// A mixture of Gaussians: vectors around `k` centres of standard-normal coordinates.
///
/// ```
/// use songrec_storage::rng::Mixture;
/// let mut a = Mixture::new(7, 30, 16, 0.35);
/// let mut b = a.reseeded(8);
/// assert_eq!(a.draw().len(), 16);
/// assert_ne!(a.draw(), b.draw());
/// ```
#[derive(Clone, Debug)]
pub struct Mixture {
    centres: Vec<Vec<f32>>,
    rng: SplitMix,
    spread: f32,
}

impl Mixture {
    /// `k` centres of `dim` coordinates drawn from `seed`; the draws continue the same stream,
    /// each centre plus `spread` times standard-normal noise.
    pub fn new(seed: u64, k: usize, dim: usize, spread: f32) -> Self {
        let mut rng = SplitMix::new(seed);
        let centres = (0..k.max(1))
            .map(|_| (0..dim).map(|_| rng.gauss()).collect())
            .collect();
        Self {
            centres,
            rng,
            spread,
        }
    }

    /// The same centres, drawn from another stream.
    pub fn reseeded(&self, seed: u64) -> Self {
        Self {
            rng: SplitMix::new(seed),
            ..self.clone()
        }
    }

    /// The next vector (not normalised).
    pub fn draw(&mut self) -> Vec<f32> {
        let c = self.rng.below(self.centres.len());
        let spread = self.spread;
        let rng = &mut self.rng;
        self.centres[c]
            .iter()
            .map(|x| x + spread * rng.gauss())
            .collect()
    }
}
