//! A row of a self-describing format (a JSON object, a Parquet row) deserialized into
//! the cells of a column spec's plan: the keys it names, looked up without allocating,
//! and nothing else (other keys are skipped).

use super::rows::Cell;
use super::spec::Plan;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;

/// A row's cells, indexed as the plan's columns: `None` where the row has no such key.
pub(super) type Cells<'de> = Vec<Option<Cell<'de>>>;

/// Deserializes a row (a map) into [`Cells`].
#[derive(Clone, Copy)]
pub(super) struct RowSeed<'p> {
    pub plan: &'p Plan,
    /// Where to note the keys the plan does not read (a few, each once), if anywhere.
    pub keys: Option<&'p RefCell<Vec<String>>>,
}

/// The most keys noted, enough to show what a file has.
const MAX_KEYS: usize = 64;

impl<'de> DeserializeSeed<'de> for RowSeed<'_> {
    type Value = Cells<'de>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Cells<'de>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RowSeed<'_> {
    type Value = Cells<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of columns")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Cells<'de>, A::Error> {
        let mut cells: Cells<'de> = vec![None; self.plan.names.len()];
        let key_seed = KeySeed {
            plan: self.plan,
            keys: self.keys,
        };
        while let Some(key) = map.next_key_seed(key_seed)? {
            match key {
                Some(i) if cells[i].is_some() => {
                    return Err(de::Error::custom(format_args!(
                        "duplicate field `{}`",
                        self.plan.names[i]
                    )))
                }
                Some(i) => cells[i] = Some(map.next_value_seed(CellSeed)?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(cells)
    }
}

/// A key: the index of the plan's column of that name, if any.
#[derive(Clone, Copy)]
struct KeySeed<'p> {
    plan: &'p Plan,
    keys: Option<&'p RefCell<Vec<String>>>,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Option<usize>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Option<usize>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a column name")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<usize>, E> {
        let i = self.plan.names.iter().position(|n| n == v);
        if let (None, Some(keys)) = (i, self.keys) {
            let mut keys = keys.borrow_mut();
            if keys.len() < MAX_KEYS && !keys.iter().any(|k| k == v) {
                keys.push(v.to_string());
            }
        }
        Ok(i)
    }
}

/// One value: text (borrowed when it can be), a number, a bool, or null.
struct CellSeed;

impl<'de> DeserializeSeed<'de> for CellSeed {
    type Value = Cell<'de>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Cell<'de>, D::Error> {
        d.deserialize_option(CellVisitor)
    }
}

struct CellVisitor;

impl<'de> Visitor<'de> for CellVisitor {
    type Value = Cell<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("text, a number, a bool or null")
    }

    fn visit_none<E: de::Error>(self) -> Result<Cell<'de>, E> {
        Ok(Cell::Missing)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Cell<'de>, E> {
        Ok(Cell::Missing)
    }

    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Cell<'de>, D::Error> {
        d.deserialize_any(CellVisitor)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Cell<'de>, E> {
        Ok(Cell::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Cell<'de>, E> {
        Ok(Cell::Int(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Cell<'de>, E> {
        Ok(Cell::Int(v.into()))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Cell<'de>, E> {
        Ok(Cell::Int(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Cell<'de>, E> {
        Ok(Cell::Float(v))
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Cell<'de>, E> {
        Ok(Cell::Text(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Cell<'de>, E> {
        Ok(Cell::Text(Cow::Owned(v.to_string())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Cell<'de>, E> {
        Ok(Cell::Text(Cow::Owned(v)))
    }

    fn visit_borrowed_bytes<E: de::Error>(self, v: &'de [u8]) -> Result<Cell<'de>, E> {
        match std::str::from_utf8(v) {
            Ok(s) => Ok(Cell::Text(Cow::Borrowed(s))),
            Err(_) => Err(E::custom("expected UTF-8 text, found other bytes")),
        }
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Cell<'de>, E> {
        match std::str::from_utf8(v) {
            Ok(s) => Ok(Cell::Text(Cow::Owned(s.to_string()))),
            Err(_) => Err(E::custom("expected UTF-8 text, found other bytes")),
        }
    }
}
