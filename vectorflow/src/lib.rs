//! # vectorflow
//!
//! Shallow neural networks and linear models on very sparse data — tens of millions of
//! features, a handful of non-zeros per row — trained by SGD with sparse updates on one
//! thread or several (per-thread replicas merged at chunk boundaries, or lock-free Hogwild).
//!
//! - `#[derive(Features)]` turns a row struct into a zero-copy sparse feature extractor.
//! - `network!` builds a statically typed layer stack; shape mistakes are compile errors.
//!   Your own layers ([`layers::Layer`]) and activations join the built-ins, and
//!   [`gradcheck::check_gradients`] checks their gradients.
//! - [`explain`] takes a prediction apart by feature name (`carrier=UA`,
//!   `origin×dest=EWR×IAH`) and ranks the features that matter most, with their hash
//!   collisions.
//!
//! ```
//! use vectorflow::prelude::*;
//!
//! #[derive(Features)]
//! #[features(cross(origin, dest))]
//! struct Flight<'a> {
//!     #[label]
//!     delayed: bool,
//!     #[hash]
//!     carrier: &'a str,
//!     #[hash]
//!     origin: &'a str,
//!     #[hash]
//!     dest: &'a str,
//!     #[value]
//!     distance: f32,
//! }
//!
//! type Model = network![Sparse<{ 1 << 18 }> => Linear<16> => ReLU => Linear<1>];
//! let net = Model::new(Init::uniform(0.01).seed(7));
//! let row = Flight { delayed: false, carrier: "UA", origin: "EWR", dest: "IAH", distance: 1.4 };
//! let [score] = net.predict(&row).unwrap();
//! assert!(score.is_finite());
//! ```

#![warn(missing_docs)]

/// `Debug` for a public error type is its message, which already names every cause, so
/// that `fn main() -> Result<(), Box<dyn Error>>` prints the sentence a user can act on
/// rather than a struct dump. The fields stay readable through the types' accessors.
macro_rules! debug_as_message {
    ($($ty:ty),+ $(,)?) => {$(
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Display::fmt(self, f)
            }
        }
    )+};
}

pub mod cluster;
pub mod dynnet;
pub mod explain;
pub mod features;
pub mod file;
mod fsio;
pub mod gradcheck;
pub mod hash;
pub mod init;
pub mod io;
// The compute kernels and CPU levels are the crate's own: hidden from the docs, public
// for its benchmarks (`examples/kernels.rs`) and the tests that pin weights at every level.
#[doc(hidden)]
pub mod kernels;
pub mod layers;
pub mod loss;
pub mod metrics;
pub mod network;
pub mod optim;
pub mod params;
pub mod predict;
pub mod rng;
mod shard;
pub mod train;
mod trainable;
pub mod tune;
pub mod weights;

#[doc(hidden)]
pub mod __private;

pub use features::{FeatureError, Features, Labeled, SparseF};
pub use file::ModelError;
pub use init::Init;
pub use network::Net;
pub use vectorflow_derive::{network, Category, Features};

/// Everything a user needs: `use vectorflow::prelude::*;`.
pub mod prelude {
    pub use crate::explain::{audit, top_features, Rank};
    pub use crate::features::{FeatureError, Features, Labeled, SparseF};
    pub use crate::init::Init;
    pub use crate::loss::{Hinge, Logistic, Loss, Multinomial, Poisson, Square};
    pub use crate::network::Net;
    pub use crate::optim::{AdaGrad, Adam, Ftrl, Momentum, RowAdaGrad, Sgd};
    pub use crate::train::{Holdout, Prior, Progress, Schedule, Sharing, TrainReport, Trainer};
    pub use vectorflow_derive::{network, Category, Features};
}
