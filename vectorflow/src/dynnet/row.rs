//! Rows a network built at run time reads: its inputs name their feature groups at run
//! time, so rows hand over a group by name.

use crate::features::{FeatureError, Features, SparseGroup};
use crate::io::columns::ColumnRow;
use crate::io::SparseRow;

/// A row whose feature groups a [`super::DynNet`] reads by name: the run-time twin of
/// [`SparseGroup`] and [`crate::features::DenseGroup`]. `""` is the default group.
pub trait DynRow: Features {
    /// Whether rows of this type have features for an input reading `group` (sparse or
    /// dense): training checks it before the first row.
    fn feeds(group: &str, sparse: bool) -> bool;

    /// Appends `(id mod dim, value)` for each sparse feature of `group` to `out`, as
    /// [`SparseGroup::extend_pairs`] does; [`FeatureError::NO_GROUP`] when the row has no
    /// such group.
    fn sparse(
        &self,
        group: &str,
        dim: usize,
        out: &mut Vec<(u32, f32)>,
    ) -> Result<(), FeatureError>;

    /// Writes the dense values of `group` into `out` (of the input's width);
    /// [`FeatureError::NO_GROUP`] when the row has no such group.
    fn dense(&self, group: &str, out: &mut [f32]) -> Result<(), FeatureError>;

    /// Why [`DynRow::sparse`] refused the row with [`FeatureError::ID_BEYOND_INPUT`], in
    /// words (see [`SparseGroup::why_refused`]).
    fn why_refused(&self, group: &str, dim: usize) -> Option<String> {
        let _ = (group, dim);
        None
    }
}

/// The error of a row without the group an input reads.
fn no_group() -> FeatureError {
    FeatureError {
        field: FeatureError::NO_GROUP,
        value: f32::NAN,
    }
}

/// A LIBSVM or VW row: sparse features in the default group.
impl DynRow for SparseRow<'_> {
    fn feeds(group: &str, sparse: bool) -> bool {
        group.is_empty() && sparse
    }

    #[inline]
    fn sparse(
        &self,
        group: &str,
        dim: usize,
        out: &mut Vec<(u32, f32)>,
    ) -> Result<(), FeatureError> {
        if !group.is_empty() {
            return Err(no_group());
        }
        self.extend_pairs(dim, out)
    }

    fn dense(&self, _group: &str, _out: &mut [f32]) -> Result<(), FeatureError> {
        Err(no_group())
    }

    fn why_refused(&self, group: &str, dim: usize) -> Option<String> {
        group
            .is_empty()
            .then(|| SparseGroup::why_refused(self, dim))
            .flatten()
    }
}

/// A row read with a column spec: sparse features in the spec's roots. Which roots a
/// spec has is known only at run time, so every sparse input is fed; one reading a root
/// the spec does not have fails on the first row with [`FeatureError::NO_GROUP`].
impl DynRow for ColumnRow<'_> {
    fn feeds(_group: &str, sparse: bool) -> bool {
        sparse
    }

    #[inline]
    fn sparse(
        &self,
        group: &str,
        dim: usize,
        out: &mut Vec<(u32, f32)>,
    ) -> Result<(), FeatureError> {
        let (ids, values) = self.try_root(group).ok_or_else(no_group)?;
        crate::features::extend_slots(ids, values, dim, out);
        Ok(())
    }

    fn dense(&self, _group: &str, _out: &mut [f32]) -> Result<(), FeatureError> {
        Err(no_group())
    }
}
