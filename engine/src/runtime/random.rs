//! The random generator: PyTorch's CPU generator, draw for draw.
//!
//! `manual_seed(s)` followed by a model's construction gives the same initial weights as
//! `torch.manual_seed(s)` followed by the same PyTorch model, and a seeded
//! [`crate::data::DataLoader`] visits examples in the order of `torch.randperm(n,
//! generator=torch.Generator().manual_seed(s))`: results can be compared with a PyTorch
//! run start for start, not only on average. The engine is the 32-bit Mersenne Twister
//! (`at::mt19937`); the ways values are made from its output (how many bits a float takes,
//! in which precision the range is applied, Box-Muller in blocks of 16) follow ATen's CPU
//! kernels. `tests/golden/gen_torch_rng.py` records PyTorch's values for the tests.

use crate::dtype::DType;

const N: usize = 624;
const M: usize = 397;

/// A Mersenne Twister with PyTorch's seeding and sampling rules.
#[derive(Clone)]
pub struct Rng {
    state: [u32; N],
    next: usize,
    // Box-Muller makes two normals; PyTorch keeps the second for the next scalar draw.
    cached_normal: Option<f64>,
}

impl Rng {
    /// The generator `torch.manual_seed(seed)` sets up (the seed's low 32 bits).
    pub fn seeded(seed: u64) -> Rng {
        let mut state = [0u32; N];
        state[0] = seed as u32;
        for j in 1..N {
            let prev = state[j - 1];
            state[j] = 1_812_433_253u32
                .wrapping_mul(prev ^ (prev >> 30))
                .wrapping_add(j as u32);
        }
        Rng {
            state,
            next: N,
            cached_normal: None,
        }
    }

    /// The next 32 random bits (`generator->random()`).
    pub fn next_u32(&mut self) -> u32 {
        if self.next == N {
            self.twist();
        }
        let mut y = self.state[self.next];
        self.next += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// The next 64 random bits, the first draw high (`generator->random64()`).
    pub fn next_u64(&mut self) -> u64 {
        let hi = self.next_u32() as u64;
        (hi << 32) | self.next_u32() as u64
    }

    fn twist(&mut self) {
        let s = &mut self.state;
        for i in 0..N {
            let y = (s[i] & 0x8000_0000) | (s[(i + 1) % N] & 0x7fff_ffff);
            let mag = if y & 1 == 1 { 0x9908_b0df } else { 0 };
            s[i] = s[(i + M) % N] ^ (y >> 1) ^ mag;
        }
        self.next = 0;
    }

    /// Uniform in `[0, 1)` with 53 random bits (PyTorch's double draw).
    pub fn uniform(&mut self) -> f64 {
        self.uniform_in(DType::F64, 0.0, 1.0)
    }

    /// One sample of `uniform_(from, to)` on a tensor of `dtype`: f64 takes 53 bits of a
    /// 64-bit draw; f32 24 bits, f16 11 and bf16 8 bits of a 32-bit draw, with the bounds
    /// and their difference rounded to the dtype as PyTorch's kernel does. The result is
    /// exact in f64; rounding it to `dtype` gives PyTorch's value.
    pub fn uniform_in(&mut self, dtype: DType, from: f64, to: f64) -> f64 {
        let unit = |bits: u64, digits: u32| (bits & ((1u64 << digits) - 1)) as f64 / (1u64 << digits) as f64;
        match dtype {
            DType::F32 => {
                let (from, to) = (from as f32, to as f32);
                unit(self.next_u32() as u64, 24) * (to - from) as f64 + from as f64
            }
            DType::F16 | DType::BF16 => {
                let digits = if dtype == DType::F16 { 11 } else { 8 };
                let round = |v: f64| match dtype {
                    DType::F16 => half::f16::from_f64(v).to_f64(),
                    _ => half::bf16::from_f64(v).to_f64(),
                };
                let (from, to) = (round(from), round(to));
                let x = unit(self.next_u32() as u64, digits) as f32;
                (x * round(to - from) as f32 + from as f32) as f64
            }
            _ => unit(self.next_u64(), 53) * (to - from) + from,
        }
    }

    /// A standard normal sample (PyTorch's scalar `normal_distribution<double>`: two
    /// uniforms make two samples by Box-Muller; the second is kept for the next call).
    pub fn normal(&mut self) -> f64 {
        if let Some(v) = self.cached_normal.take() {
            return v;
        }
        let u1 = self.uniform();
        let u2 = self.uniform();
        let r = (-2.0 * (-u2).ln_1p()).sqrt();
        let theta = 2.0 * std::f64::consts::PI * u1;
        self.cached_normal = Some(r * theta.sin());
        r * theta.cos()
    }

    /// `n` standard normal samples as `torch.randn(n)` makes them for `dtype`: from 16
    /// samples on, all uniforms are drawn first, then Box-Muller runs on blocks of 16
    /// (the first 8 values paired with the next 8), and a length that is not a multiple of
    /// 16 redraws the last block; fewer than 16 come from [`Rng::normal`].
    pub fn normals(&mut self, n: usize, dtype: DType) -> Vec<f64> {
        if n < 16 {
            return (0..n).map(|_| self.normal()).collect();
        }
        let single = dtype != DType::F64;
        let mut data: Vec<f64> = (0..n).map(|_| self.uniform_in(dtype, 0.0, 1.0)).collect();
        let block = |d: &mut [f64]| {
            for j in 0..8 {
                let (x, y) = if single {
                    let (u1, u2) = (1.0 - d[j] as f32, d[j + 8] as f32);
                    let radius = (-2.0 * u1.ln()).sqrt();
                    let theta = (2.0 * std::f64::consts::PI * u2 as f64) as f32;
                    ((radius * theta.cos()) as f64, (radius * theta.sin()) as f64)
                } else {
                    let (u1, u2) = (1.0 - d[j], d[j + 8]);
                    let radius = (-2.0 * u1.ln()).sqrt();
                    let theta = 2.0 * std::f64::consts::PI * u2;
                    (radius * theta.cos(), radius * theta.sin())
                };
                d[j] = x;
                d[j + 8] = y;
            }
        };
        for start in (0..n - 15).step_by(16) {
            block(&mut data[start..start + 16]);
        }
        if !n.is_multiple_of(16) {
            let tail = &mut data[n - 16..];
            for v in tail.iter_mut() {
                *v = self.uniform_in(dtype, 0.0, 1.0);
            }
            block(tail);
        }
        data
    }

    /// A random permutation of `0..n`, as `torch.randperm(n)` draws it (a forward
    /// Fisher-Yates with `random() % (n - i)`; PyTorch switches algorithms at 2^32 / 20,
    /// past which this one still draws uniformly but no longer matches it).
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..n).collect();
        for i in 0..n.saturating_sub(1) {
            let left = n - i;
            let z = if n < (u32::MAX / 20) as usize {
                self.next_u32() as usize % left
            } else {
                (self.next_u64() % left as u64) as usize
            };
            order.swap(i, i + z);
        }
        order
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_draws_are_the_reference_mersenne_twister() {
        // std::mt19937 with seed 5489 (the C++ standard's check value is its 10000th draw).
        let mut r = Rng::seeded(5489);
        let first = r.next_u32();
        let tenthousandth = (1..10_000).map(|_| r.next_u32()).last().unwrap();
        assert_eq!((first, tenthousandth), (3_499_211_612, 4_123_659_995));
    }

    #[test]
    fn same_seed_same_stream() {
        let (mut a, mut b) = (Rng::seeded(7), Rng::seeded(7));
        assert_eq!((a.next_u64(), a.next_u64()), (b.next_u64(), b.next_u64()));
        assert_ne!(Rng::seeded(8).next_u64(), Rng::seeded(7).next_u64());
    }

    #[test]
    fn uniform_is_in_unit_interval() {
        let mut r = Rng::seeded(1);
        let xs: Vec<f64> = (0..10_000).map(|_| r.uniform()).collect();
        assert!(xs.iter().all(|&x| (0.0..1.0).contains(&x)));
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        assert!((mean - 0.5).abs() < 0.02, "{mean}");
    }

    #[test]
    fn a_permutation_holds_every_index_once() {
        let mut p = Rng::seeded(3).permutation(1000);
        assert_ne!(p, (0..1000).collect::<Vec<_>>());
        p.sort_unstable();
        assert_eq!(p, (0..1000).collect::<Vec<_>>());
        assert!(Rng::seeded(3).permutation(0).is_empty());
    }

    #[test]
    fn normals_have_unit_variance() {
        for n in [15, 1000, 1001] {
            let xs = Rng::seeded(2).normals(n, DType::F32);
            let mean = xs.iter().sum::<f64>() / n as f64;
            let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
            assert!(mean.abs() < 0.5 && (var - 1.0).abs() < 0.6, "n {n}: {mean} {var}");
        }
    }
}
