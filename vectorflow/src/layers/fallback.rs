//! The input layer `network!` stands in for a network it could not build, so that the
//! model's uses (`new`, `predict`, `fit`) do not pile further errors on the one that
//! names the mistake. Code using it never compiles, so none of it ever runs.

use super::{Block, InputFeed, InputLayer, RowInputs};
use crate::features::FeatureError;
use crate::init::Init;
use crate::params::{Learn, Params};
use crate::rng::Rng;

/// The stand-in input layer of a `network!` with a mistake, with `OUT` outputs.
#[doc(hidden)]
pub struct Fallback<const OUT: usize>;

impl<const OUT: usize> InputLayer for Fallback<OUT> {
    type Out = [f32; OUT];
    const PARAMS: usize = 0;
    fn describe(_out: &mut String) {
        unreachable!("a network! with errors does not compile")
    }
    fn init(_w: &mut [f32], _init: &Init, _rng: &mut Rng) {
        unreachable!("a network! with errors does not compile")
    }
    fn blocks(_v: &mut Vec<Block>) {
        unreachable!("a network! with errors does not compile")
    }
    fn layout() -> super::InputLayout {
        unreachable!("a network! with errors does not compile")
    }
    fn compute<P: Params + ?Sized>(_p: &P, _inputs: &RowInputs, _y: &mut [f32; OUT]) {
        unreachable!("a network! with errors does not compile")
    }
    fn backward<L: Learn + ?Sized>(_p: &mut L, _inputs: &RowInputs, _dy: &[f32; OUT]) {
        unreachable!("a network! with errors does not compile")
    }
}

impl<R, const OUT: usize> InputFeed<R> for Fallback<OUT> {
    fn load(_row: &R, _inputs: &mut RowInputs) -> Result<(), FeatureError> {
        unreachable!("a network! with errors does not compile")
    }
}
