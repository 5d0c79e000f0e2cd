//! Rows without a derive: tabular files (CSV, JSON lines, Parquet) whose columns are
//! chosen at run time by a [`ColumnSpec`], hashed into exactly the feature ids and
//! values `#[derive(Features)]` gives a struct with those fields and attributes. This
//! is what a command line or a notebook reads data with.
//!
//! ```
//! use vectorflow::io::columns::{ColumnReader, ColumnSpec};
//! use vectorflow::prelude::*;
//! use std::borrow::Cow;
//!
//! // The flags' values, as `vf train --label delayed --hash carrier,origin,dest
//! // --value distance --cross origin*dest` hands them over.
//! let spec = ColumnSpec::builder()
//!     .label("delayed")
//!     .hash("carrier,origin,dest".parse()?)
//!     .value("distance".parse()?)
//!     .cross("origin*dest".parse()?)
//!     .build()?;
//! let text = "delayed,carrier,origin,dest,distance\n1,UA,EWR,IAH,1400\n";
//! let rows = ColumnReader::csv(text.as_bytes(), "<text>", &spec)?.read_all()?;
//!
//! // The struct the spec stands for gives the same ids and values.
//! #[derive(Features)]
//! #[features(cross(origin, dest))]
//! struct Flight<'a> {
//!     #[label]
//!     delayed: f32,
//!     #[hash]
//!     carrier: Option<Cow<'a, str>>,
//!     #[hash]
//!     origin: Option<Cow<'a, str>>,
//!     #[hash]
//!     dest: Option<Cow<'a, str>>,
//!     #[value]
//!     distance: Option<f32>,
//! }
//! let flight = Flight {
//!     delayed: 1.0,
//!     carrier: Some("UA".into()),
//!     origin: Some("EWR".into()),
//!     dest: Some("IAH".into()),
//!     distance: Some(1400.0),
//! };
//! let mut derived = Vec::new();
//! vectorflow::features::SparseGroup::<{ vectorflow::features::group_id("") }>::visit(
//!     &flight,
//!     |id, value| derived.push(SparseF { id, value }),
//! )?;
//! assert_eq!(rows.row(0).features(""), derived);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`ColumnRows::to_rows`] feeds `Trainer::fit`; [`ColumnStream`] feeds
//! `Trainer::fit_stream`, with a binary cache keyed by the spec's description (its
//! `Display`), which is also what a model file records to read new rows the same way
//! (it parses back with `FromStr`).

mod cells;
mod list;
mod read;
mod rows;
mod spec;

pub use list::{Column, Columns, Cross, Crosses};
pub use read::{ColumnReader, ColumnStream, Format};
pub use rows::{ColumnRow, ColumnRows};
pub use spec::{ColumnSpec, ColumnSpecBuilder, SpecError};
