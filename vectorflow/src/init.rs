//! Weight initialisation: seeded and reproducible. Biases start at zero.
//!
//! The fan-scaled schemes (Xavier, the default, and He) draw the weights of a
//! `Sparse<DIM>` input uniform in ±[`Init::sparse_scale`] (default
//! [`Init::SPARSE_SCALE`], 0.05) whatever `DIM`, and count only the dense inputs in the
//! first layer's fan-in. Counting all `DIM` slots would draw a `Sparse<{1 << 20}> =>
//! Linear<16>` layer in ±0.0024, which learns slowly; counting the few slots a row sets
//! (Xavier's own logic) gives ±0.35, and then the many rarely trained weights of a hashed
//! input are noise at prediction time. On the shared 2^20-feature benchmark data a first
//! layer anywhere in ±0.02..0.1 trains equally well (`examples/init_sparse`); 0.05 sits
//! in the middle.

use crate::rng::Rng;

/// How a layer's weights are drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scheme {
    /// Uniform in `[-scale, scale]`.
    Uniform(f32),
    /// Normal with mean 0 and standard deviation `std`.
    Normal(f32),
    /// Xavier/Glorot uniform: `±sqrt(6 / (fan_in + fan_out))`.
    Xavier,
    /// He (Kaiming) normal: standard deviation `sqrt(2 / fan_in)`, for ReLU stacks.
    He,
    /// All zeros (a linear model's usual start).
    Zeros,
}

/// An initialisation: a scheme, a seed, and the scale of sparse inputs' weights under
/// the fan-scaled schemes.
///
/// ```
/// use vectorflow::Init;
/// let init = Init::uniform(0.01).seed(7);
/// assert_eq!(init.seed, 7);
/// // Xavier for dense layers, ±0.1 for the weights of sparse inputs.
/// let init = Init::default().sparse_scale(0.1);
/// assert_eq!(init.sparse_scale, 0.1);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Init {
    /// The distribution.
    pub scheme: Scheme,
    /// The seed of the draws.
    pub seed: u64,
    /// Under Xavier and He, the weights of a `Sparse` input are uniform in
    /// `±sparse_scale` (the other schemes draw them like any weight). Default
    /// [`Init::SPARSE_SCALE`].
    pub sparse_scale: f32,
}

impl Init {
    /// The default [`Init::sparse_scale`]: see the [module docs](self) for why.
    pub const SPARSE_SCALE: f32 = 0.05;

    /// Uniform in `[-scale, scale]`.
    pub fn uniform(scale: f32) -> Init {
        Init {
            scheme: Scheme::Uniform(scale),
            seed: 0,
            sparse_scale: Init::SPARSE_SCALE,
        }
    }
    /// Normal with standard deviation `std`.
    pub fn normal(std: f32) -> Init {
        Init {
            scheme: Scheme::Normal(std),
            seed: 0,
            sparse_scale: Init::SPARSE_SCALE,
        }
    }
    /// Xavier/Glorot uniform.
    pub fn xavier() -> Init {
        Init {
            scheme: Scheme::Xavier,
            seed: 0,
            sparse_scale: Init::SPARSE_SCALE,
        }
    }
    /// He normal.
    pub fn he() -> Init {
        Init {
            scheme: Scheme::He,
            seed: 0,
            sparse_scale: Init::SPARSE_SCALE,
        }
    }
    /// All zeros.
    pub fn zeros() -> Init {
        Init {
            scheme: Scheme::Zeros,
            seed: 0,
            sparse_scale: Init::SPARSE_SCALE,
        }
    }
    /// The same scheme with another seed.
    pub fn seed(self, seed: u64) -> Init {
        Init { seed, ..self }
    }

    /// The same scheme with sparse inputs' weights in `±scale` under Xavier and He.
    pub fn sparse_scale(self, scale: f32) -> Init {
        Init {
            sparse_scale: scale,
            ..self
        }
    }

    /// Fills `w`, the weights of a `Sparse` input: uniform in ±[`Init::sparse_scale`]
    /// under Xavier and He, else as [`Init::fill`] would.
    pub fn fill_sparse(&self, w: &mut [f32], fan_out: usize, rng: &mut Rng) {
        match self.scheme {
            Scheme::Xavier | Scheme::He => {
                let s = self.sparse_scale;
                w.iter_mut()
                    .for_each(|x| *x = (2.0 * rng.uniform() - 1.0) * s)
            }
            _ => self.fill(w, 0, fan_out, rng),
        }
    }

    /// Fills `w` with draws for a layer of the given fans.
    pub fn fill(&self, w: &mut [f32], fan_in: usize, fan_out: usize, rng: &mut Rng) {
        match self.scheme {
            Scheme::Uniform(s) => w
                .iter_mut()
                .for_each(|x| *x = (2.0 * rng.uniform() - 1.0) * s),
            Scheme::Normal(sd) => w.iter_mut().for_each(|x| *x = rng.normal() * sd),
            Scheme::Xavier => {
                let s = (6.0 / (fan_in + fan_out).max(1) as f64).sqrt() as f32;
                w.iter_mut()
                    .for_each(|x| *x = (2.0 * rng.uniform() - 1.0) * s)
            }
            Scheme::He => {
                let sd = (2.0 / fan_in.max(1) as f64).sqrt() as f32;
                w.iter_mut().for_each(|x| *x = rng.normal() * sd)
            }
            Scheme::Zeros => w.iter_mut().for_each(|x| *x = 0.0),
        }
    }
}

impl Default for Init {
    /// Xavier with seed 0 (sparse inputs' weights in ±[`Init::SPARSE_SCALE`]).
    fn default() -> Init {
        Init::xavier()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extent(init: &Init, fan_in: usize, fan_out: usize) -> f32 {
        let mut w = vec![0.0f32; 4096];
        init.fill(&mut w, fan_in, fan_out, &mut Rng::new(1));
        w.iter().fold(0.0f32, |m, x| m.max(x.abs()))
    }

    #[test]
    fn xavier_bounds_follow_the_fans() {
        let init = Init::default();
        let bound = (6.0f32 / (48.0)).sqrt();
        let m = extent(&init, 32, 16);
        assert!(m <= bound && m > 0.95 * bound, "{m} vs {bound}");
    }

    #[test]
    fn sparse_weights_take_the_sparse_scale_under_fan_scaled_schemes_only() {
        let mut w = vec![0.0f32; 4096];
        let max = |w: &[f32]| w.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        for init in [Init::default(), Init::he()] {
            init.fill_sparse(&mut w, 16, &mut Rng::new(1));
            let m = max(&w);
            assert!(
                m <= Init::SPARSE_SCALE && m > 0.95 * Init::SPARSE_SCALE,
                "{m}"
            );
        }
        Init::default()
            .sparse_scale(0.2)
            .fill_sparse(&mut w, 16, &mut Rng::new(1));
        assert!(max(&w) > 0.19 && max(&w) <= 0.2);
        // Explicit schemes are drawn as asked.
        Init::uniform(0.5).fill_sparse(&mut w, 16, &mut Rng::new(1));
        assert!(max(&w) > 0.45 && max(&w) <= 0.5);
        let mut plain = vec![0.0f32; 4096];
        Init::uniform(0.5).fill(&mut plain, 1 << 20, 16, &mut Rng::new(1));
        assert_eq!(w, plain);
    }
}
