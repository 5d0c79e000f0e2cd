//! Weight initialisation: seeded and reproducible. Biases start at zero.

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

/// An initialisation: a scheme and a seed.
///
/// ```
/// use vectorflow::Init;
/// let init = Init::uniform(0.01).seed(7);
/// assert_eq!(init.seed, 7);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Init {
    /// The distribution.
    pub scheme: Scheme,
    /// The seed of the draws.
    pub seed: u64,
}

impl Init {
    /// Uniform in `[-scale, scale]`.
    pub fn uniform(scale: f32) -> Init {
        Init {
            scheme: Scheme::Uniform(scale),
            seed: 0,
        }
    }
    /// Normal with standard deviation `std`.
    pub fn normal(std: f32) -> Init {
        Init {
            scheme: Scheme::Normal(std),
            seed: 0,
        }
    }
    /// Xavier/Glorot uniform.
    pub fn xavier() -> Init {
        Init {
            scheme: Scheme::Xavier,
            seed: 0,
        }
    }
    /// He normal.
    pub fn he() -> Init {
        Init {
            scheme: Scheme::He,
            seed: 0,
        }
    }
    /// All zeros.
    pub fn zeros() -> Init {
        Init {
            scheme: Scheme::Zeros,
            seed: 0,
        }
    }
    /// The same scheme with another seed.
    pub fn seed(self, seed: u64) -> Init {
        Init { seed, ..self }
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
    /// Xavier with seed 0.
    fn default() -> Init {
        Init::xavier()
    }
}
