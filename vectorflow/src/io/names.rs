//! Feature names of parsed sparse rows, for audits ([`crate::explain`]): LIBSVM ids as
//! written in the file, Vowpal Wabbit features as `namespace^name`.
//!
//! Training never reads them. A LIBSVM row names a feature by its stored id plus the
//! file's first id (1 unless `zero_based`), which costs nothing; Vowpal Wabbit names are
//! hashed away by the time a row exists, so [`Vw::names`](super::Vw::names) keeps their
//! text beside the ids, about as many bytes as the names take in the file.

use std::fmt;

/// How the features of a [`SparseRows`](super::SparseRows) are named.
#[derive(Clone, Debug, Default)]
pub(crate) struct Naming {
    /// Added to a stored id to give the id as written: 1 for LIBSVM's 1-based ids.
    base: u32,
    /// The kept names, back to back.
    text: String,
    /// The end of each kept name in `text`: the first `ends.len()` features have one,
    /// the others are named by their id.
    ends: Vec<usize>,
}

impl PartialEq for Naming {
    /// The same kept names. The base is how a reader counts ids, not part of the data:
    /// rows parsed from a 1-based file equal the same rows pushed by hand.
    fn eq(&self, other: &Self) -> bool {
        (&self.text, &self.ends) == (&other.text, &other.ends)
    }
}

/// One feature's name: kept text, or its id as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Name<'a> {
    Text(&'a str),
    Id(u64),
}

impl fmt::Display for Name<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Name::Text(s) => f.write_str(s),
            Name::Id(id) => write!(f, "{id}"),
        }
    }
}

impl Naming {
    /// Sets the number added to the stored ids of the features pushed from now on to
    /// give their ids as written; the features before, `ids`, keep their names.
    #[inline]
    pub(crate) fn set_base(&mut self, ids: &[u32], base: u32) {
        if base != self.base {
            // The names of features counted from the old base are written out first,
            // unless there are none.
            if !ids.is_empty() {
                self.fill(ids);
            }
            self.base = base;
        }
    }

    /// The name of feature `k` (over all rows), whose stored id is `id`.
    #[inline]
    pub(crate) fn name(&self, k: usize, id: u32) -> Name<'_> {
        match self.ends.get(k) {
            Some(&end) => {
                let start = if k == 0 { 0 } else { self.ends[k - 1] };
                Name::Text(&self.text[start..end])
            }
            None => Name::Id(u64::from(id) + u64::from(self.base)),
        }
    }

    /// Keeps the name of the feature that follows the features `before`, as the
    /// concatenation of `parts` (invalid UTF-8 replaced by U+FFFD).
    pub(crate) fn push(&mut self, before: &[u32], parts: &[&[u8]]) {
        self.fill(before);
        for p in parts {
            match std::str::from_utf8(p) {
                Ok(s) => self.text.push_str(s),
                Err(_) => self.text.push_str(&String::from_utf8_lossy(p)),
            }
        }
        self.ends.push(self.text.len());
    }

    /// Writes the ids of the features of `ids` that have no kept name as their names, so
    /// that the next kept name is the next feature's.
    fn fill(&mut self, ids: &[u32]) {
        use std::fmt::Write as _;
        for &id in ids.get(self.ends.len()..).unwrap_or_default() {
            let id = u64::from(id) + u64::from(self.base);
            // Writing into a String cannot fail.
            let _ = write!(self.text, "{id}");
            self.ends.push(self.text.len());
        }
    }

    /// Forgets the names of features from `nnz` on.
    pub(crate) fn truncate(&mut self, nnz: usize) {
        if self.ends.len() > nnz {
            self.ends.truncate(nnz);
            self.text.truncate(self.ends.last().copied().unwrap_or(0));
        }
    }

    /// Forgets every name, keeping the buffers and the base.
    pub(crate) fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
    }

    /// Appends the names of `other`'s features (`other_ids`) after this one's (`ids`).
    pub(crate) fn append(&mut self, ids: &[u32], other: &Naming, other_ids: &[u32]) {
        if other_ids.is_empty() {
            return;
        }
        if other.ends.is_empty() {
            self.set_base(ids, other.base);
            return;
        }
        // Names kept by `other`: this side's are written out too, so that the next
        // kept name is the next feature's.
        self.fill(ids);
        self.base = other.base;
        if other.ends.len() == other_ids.len() {
            let at = self.text.len();
            self.text.push_str(&other.text);
            self.ends.extend(other.ends.iter().map(|&e| e + at));
        } else {
            for (k, &id) in other_ids.iter().enumerate() {
                let name = other.name(k, id);
                let _ = std::fmt::Write::write_fmt(&mut self.text, format_args!("{name}"));
                self.ends.push(self.text.len());
            }
        }
    }

    /// The view of the names of one row, whose first feature is feature `first`.
    #[inline]
    pub(crate) fn row(&self, first: usize) -> RowNames<'_> {
        RowNames {
            naming: self,
            first,
        }
    }
}

/// The names of one row's features.
#[derive(Clone, Copy)]
pub(crate) struct RowNames<'a> {
    naming: &'a Naming,
    first: usize,
}

impl<'a> RowNames<'a> {
    /// The name of the row's feature `k`, whose stored id is `id`.
    #[inline]
    pub(crate) fn name(&self, k: usize, id: u32) -> Name<'a> {
        self.naming.name(self.first + k, id)
    }

    /// What stored id 0 is written as in the features named by their ids from now on.
    pub(crate) fn base(&self) -> u32 {
        self.naming.base
    }

    /// The kept name of the row's feature `k`, if it has one.
    pub(crate) fn kept(&self, k: usize) -> Option<&'a str> {
        match self.naming.name(self.first + k, 0) {
            Name::Text(s) => Some(s),
            Name::Id(_) => None,
        }
    }
}

impl fmt::Debug for RowNames<'_> {
    /// The base and whether names are kept: a row's names are listed by its audit.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RowNames")
            .field("base", &self.naming.base)
            .field("kept", &(self.first < self.naming.ends.len()))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(n: &Naming, ids: &[u32]) -> Vec<String> {
        (0..ids.len())
            .map(|k| n.name(k, ids[k]).to_string())
            .collect()
    }

    #[test]
    fn kept_names_follow_their_features_through_base_changes_and_truncation() {
        let mut n = Naming::default();
        let mut ids = vec![6, 1];
        n.set_base(&[], 1);
        assert_eq!(all(&n, &ids), ["7", "2"]);
        // A named feature after unnamed ones: those are written out first.
        ids.push(99);
        n.push(&ids[..2], &[b"a^", b"x"]);
        assert_eq!(all(&n, &ids), ["7", "2", "a^x"]);
        // Features pushed later without names are counted from the new base.
        n.set_base(&ids, 0);
        ids.push(5);
        assert_eq!(all(&n, &ids), ["7", "2", "a^x", "5"]);
        // A dropped row takes its names along; invalid UTF-8 is replaced.
        n.truncate(2);
        ids.truncate(2);
        ids.push(3);
        n.push(&ids[..2], &[b"\xff"]);
        assert_eq!(all(&n, &ids), ["7", "2", "\u{fffd}"]);
        n.clear();
        assert_eq!(all(&n, &[4]), ["4"]);
    }

    #[test]
    fn appending_keeps_each_side_s_names() {
        let one_based = |ids: &[u32]| {
            let mut n = Naming::default();
            n.set_base(&[], 1);
            (n, ids.to_vec())
        };
        // Unkept on both sides, same base: nothing is written out.
        let (mut a, ids) = one_based(&[0, 1]);
        let (b, bids) = one_based(&[2]);
        a.append(&ids, &b, &bids);
        assert!(a.text.is_empty() && a.ends.is_empty());
        assert_eq!(all(&a, &[0, 1, 2]), ["1", "2", "3"]);
        // Another base: the names before are written out.
        let mut c = Naming::default();
        c.append(&[], &a, &[0, 1, 2]);
        let mut zero = Naming::default();
        zero.set_base(&[], 0);
        c.append(&[0, 1, 2], &zero, &[8]);
        assert_eq!(all(&c, &[0, 1, 2, 8]), ["1", "2", "3", "8"]);
        // Kept names on the other side only, and on both.
        let mut kept = Naming::default();
        kept.push(&[], &[b"x"]);
        let (mut d, ids) = one_based(&[4]);
        d.append(&ids, &kept, &[77]);
        assert_eq!(all(&d, &[4, 77]), ["5", "x"]);
        d.append(&[4, 77], &kept, &[77]);
        assert_eq!(all(&d, &[4, 77, 77]), ["5", "x", "x"]);
        // Kept names here, none there: the other side's ids are written with its base.
        let (e, eids) = one_based(&[9]);
        d.append(&[4, 77, 77], &e, &eids);
        assert_eq!(all(&d, &[4, 77, 77, 9]), ["5", "x", "x", "10"]);
    }
}
