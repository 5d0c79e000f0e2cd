//! The header of a model file: a safetensors header (an 8-byte little-endian length, then
//! JSON) whose `__metadata__` says what the model is and carries the checksums.

use super::error::{ModelError, ModelErrorKind};
use crate::fsio::read_full;
use serde_json::{json, Map, Value};
use std::io::Read;

/// The `format` every vectorflow model file declares in its metadata.
pub const FORMAT: &str = "vectorflow";
/// The newest format version this build writes and reads. Files without sparse tables
/// are written as version 1, which builds before sparse tables read too.
pub const FORMAT_VERSION: u32 = 2;
/// The `saved_for` metadata value of a file written by [`crate::Net::save_for_predict`].
const PREDICT: &str = "predict";
/// No vectorflow header comes near this; a longer one is another kind of file (and is
/// never allocated).
const MAX_HEADER: u64 = 1 << 20;
/// The header checksum is computed with its own value written as this.
const PLACEHOLDER: &str = "00000000";

/// What a model file's header says: everything the file holds besides the tensor bytes.
#[derive(Debug, PartialEq)]
pub(crate) struct Header {
    pub topology: String,
    pub inputs: String,
    pub hashing: String,
    pub params: u64,
    /// The training state's optimizer kind, passes and rows, when the file has one.
    pub state: Option<(String, u64, u64)>,
    /// Written by [`crate::Net::save_for_predict`]: weights only, never resumed from.
    pub predict_only: bool,
    /// The initialisation the net was drawn with (see [`super::sparse::init_text`]).
    pub init: Option<String>,
    /// The sparse tables stored as listed rows, in ascending index order.
    pub tables: Vec<TableMeta>,
    /// The CRC-32 of the whole rebuilt parameter buffer, in a file with sparse tables.
    pub weights_crc: Option<u32>,
    /// The tensors in data order (see [`tensor_names`]).
    pub tensors: Vec<Tensor>,
    /// How the training rows were read, when the writer said: the `recipe.*` metadata
    /// entries, as text (read and checked by [`crate::dynnet::DynNet`]).
    pub recipe: Vec<(String, String)>,
}

/// A sparse table stored as listed rows: its index among the net's sparse blocks, and
/// where it is in the parameter buffer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct TableMeta {
    pub index: usize,
    pub offset: u64,
    pub rows: u64,
    pub width: u64,
}

/// An element type: both are 4 bytes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Dtype {
    F32,
    U32,
}

impl Dtype {
    fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "F32",
            Dtype::U32 => "U32",
        }
    }
}

/// One tensor: its name, element type, shape and the CRC-32 of its bytes.
#[derive(Debug, PartialEq)]
pub(crate) struct Tensor {
    pub name: String,
    pub dtype: Dtype,
    pub shape: Vec<u64>,
    pub crc: u32,
}

impl Tensor {
    /// The number of elements (the shape's product, checked when the header was read).
    pub fn len(&self) -> u64 {
        self.shape.iter().product()
    }
}

impl Header {
    /// The bytes of all tensors.
    pub fn data_len(&self) -> u64 {
        self.tensors.iter().map(|t| 4 * t.len()).sum()
    }

    /// The format version the file needs: 2 with sparse tables, else 1 (which older
    /// builds read).
    pub fn version(&self) -> u32 {
        if self.tables.is_empty() {
            1
        } else {
            2
        }
    }
}

/// The header bytes (length prefix included), padded so the data is 8-byte aligned.
pub(crate) fn encode(m: &Header) -> Vec<u8> {
    let mut meta = Map::new();
    let mut put = |k: &str, v: String| meta.insert(k.to_string(), Value::String(v));
    put("format", FORMAT.into());
    put("format_version", m.version().to_string());
    put(
        "library",
        concat!("vectorflow ", env!("CARGO_PKG_VERSION")).into(),
    );
    put("topology", m.topology.clone());
    put("inputs", m.inputs.clone());
    put("hashing", m.hashing.clone());
    put("params", m.params.to_string());
    if let Some((opt, passes, rows)) = &m.state {
        put("optimizer", opt.clone());
        put("passes", passes.to_string());
        put("rows", rows.to_string());
    }
    if m.predict_only {
        put("saved_for", PREDICT.into());
    }
    if let Some(init) = &m.init {
        put("init", init.clone());
    }
    for t in &m.tables {
        put(
            &format!("table.{}", t.index),
            format!("{},{},{}", t.offset, t.rows, t.width),
        );
    }
    if let Some(crc) = m.weights_crc {
        put("crc32.weights", format!("{crc:08x}"));
    }
    for (k, v) in &m.recipe {
        put(k, v.clone());
    }
    for t in &m.tensors {
        put(&format!("crc32.{}", t.name), format!("{:08x}", t.crc));
    }
    put("checksum", PLACEHOLDER.into());
    let mut root = Map::new();
    root.insert("__metadata__".into(), Value::Object(meta));
    let mut off = 0u64;
    for t in &m.tensors {
        let end = off + 4 * t.len();
        root.insert(
            t.name.clone(),
            json!({"dtype": t.dtype.name(), "shape": t.shape, "data_offsets": [off, end]}),
        );
        off = end;
    }
    let mut text = Value::Object(root).to_string();
    while !text.len().is_multiple_of(8) {
        text.push(' ');
    }
    let mut bytes = (text.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(text.as_bytes());
    let crc = format!("{:08x}", crc32fast::hash(&bytes));
    let at = find_checksum(&bytes, PLACEHOLDER).expect("the placeholder was just written");
    bytes[at..at + 8].copy_from_slice(crc.as_bytes());
    bytes
}

/// Reads and checks a header: magic (`format`), version, header checksum and tensor
/// layout, returning it with the header's length in bytes. Allocates at most
/// [`MAX_HEADER`] bytes whatever the input.
pub(crate) fn decode(r: &mut impl Read) -> Result<(Header, u64), ModelError> {
    let not_model = |m: String| ModelError::from(ModelErrorKind::NotAModel(m));
    let corrupt = |m: String| ModelError::from(ModelErrorKind::Corrupt(m));
    let mut prefix = [0u8; 8];
    let got = read_full(r, &mut prefix)?;
    if got < 8 {
        return Err(not_model(format!(
            "it is {got} bytes long, shorter than any model"
        )));
    }
    let n = u64::from_le_bytes(prefix);
    if !(2..=MAX_HEADER).contains(&n) {
        return Err(not_model(format!(
            "its first 8 bytes give a header length of {n}, and a vectorflow header has \
             2 to {MAX_HEADER} bytes"
        )));
    }
    let mut bytes = prefix.to_vec();
    let got = r.take(n).read_to_end(&mut bytes)? as u64;
    if got < n {
        return Err(ModelErrorKind::Truncated {
            section: "the header".into(),
            expected: n,
            found: got,
        }
        .into());
    }
    let text = &bytes[8..];
    // A damaged header of ours still names its format; anything else is another file.
    let ours = contains(text, br#""format":"vectorflow""#);
    let wrap = |m: String| if ours { corrupt(m) } else { not_model(m) };
    let root: Value = serde_json::from_slice(text)
        .map_err(|e| wrap(format!("its header is not valid JSON ({e})")))?;
    let Value::Object(root) = root else {
        return Err(wrap("its header is not a JSON object".into()));
    };
    let Some(Value::Object(meta)) = root.get("__metadata__") else {
        return Err(wrap("its header has no __metadata__ map".into()));
    };
    let get = |k: &str| meta.get(k).and_then(Value::as_str);
    match get("format") {
        Some(FORMAT) => {}
        Some(f) => return Err(wrap(format!("its metadata says format {f:?}"))),
        None => return Err(wrap("its metadata has no format".into())),
    }
    let version = get("format_version")
        .and_then(|v| v.parse::<u32>().ok())
        .ok_or_else(|| corrupt("the format version is missing or not a number".into()))?;
    if version > FORMAT_VERSION {
        return Err(ModelErrorKind::FutureVersion {
            found: version,
            supported: FORMAT_VERSION,
        }
        .into());
    }
    let stored = get("checksum")
        .filter(|c| c.len() == 8)
        .ok_or_else(|| corrupt("the header checksum is missing".into()))?;
    let at = find_checksum(&bytes, stored)
        .ok_or_else(|| corrupt("the header checksum is not where it belongs".into()))?;
    let mut zeroed = bytes.clone();
    zeroed[at..at + 8].copy_from_slice(PLACEHOLDER.as_bytes());
    let computed = format!("{:08x}", crc32fast::hash(&zeroed));
    if computed != stored {
        return Err(corrupt(format!(
            "the header's checksum is {stored}, but its bytes give {computed}"
        )));
    }
    let field = |k: &str| {
        get(k)
            .map(str::to_string)
            .ok_or_else(|| corrupt(format!("the metadata has no {k}")))
    };
    let number = |k: &str| {
        field(k)?
            .parse::<u64>()
            .map_err(|_| corrupt(format!("the metadata's {k} is not a number")))
    };
    let state = match get("optimizer") {
        Some(opt) => Some((opt.to_string(), number("passes")?, number("rows")?)),
        None => None,
    };
    let predict_only = match get("saved_for") {
        None => false,
        Some(PREDICT) => true,
        Some(other) => return Err(corrupt(format!("its metadata says saved_for {other:?}"))),
    };
    if predict_only && state.is_some() {
        return Err(corrupt(
            "it is saved for prediction but names an optimizer".into(),
        ));
    }
    let tables = tables(meta).map_err(corrupt)?;
    let hex = |k: &str| {
        get(k)
            .and_then(|c| u32::from_str_radix(c, 16).ok())
            .ok_or_else(|| corrupt(format!("the metadata has no checksum {k}")))
    };
    let weights_crc = if tables.is_empty() {
        None
    } else {
        Some(hex("crc32.weights")?)
    };
    // At most one plane per tensor the header lists.
    let planes = (0..root.len())
        .take_while(|j| root.contains_key(&format!("state.{j}")))
        .count();
    if planes > 0 && state.is_none() {
        return Err(corrupt("state tensors without an optimizer".into()));
    }
    let indices: Vec<usize> = tables.iter().map(|t| t.index).collect();
    let names = tensor_names(&indices, planes);
    if root.len() - 1 != names.len() {
        return Err(corrupt(format!(
            "the header lists {} tensors; its metadata implies {}",
            root.len() - 1,
            names.len()
        )));
    }
    let mut tensors = Vec::with_capacity(names.len());
    let mut off = 0u64;
    for name in names {
        let Some(t) = root.get(&name) else {
            return Err(corrupt(format!("the header has no tensor {name}")));
        };
        let (dtype, rank) = kind_of(&name);
        let shape = tensor_shape(t, dtype, rank, off).ok_or_else(|| {
            corrupt(format!(
                "tensor {name} is not {} data of rank {rank} at offset {off}",
                dtype.name()
            ))
        })?;
        let crc = hex(&format!("crc32.{name}"))?;
        let t = Tensor {
            name,
            dtype,
            shape,
            crc,
        };
        off += 4 * t.len();
        tensors.push(t);
    }
    let mut recipe = Vec::new();
    for (k, v) in meta.iter().filter(|(k, _)| k.starts_with("recipe.")) {
        let Value::String(v) = v else {
            return Err(ModelErrorKind::Recipe(format!("{k} is not a string")).into());
        };
        recipe.push((k.clone(), v.clone()));
    }
    let header = Header {
        topology: field("topology")?,
        inputs: field("inputs")?,
        hashing: field("hashing")?,
        params: number("params")?,
        state,
        predict_only,
        init: get("init").map(str::to_string),
        tables,
        weights_crc,
        tensors,
        recipe,
    };
    Ok((header, 8 + n))
}

/// The tables a file stores as listed rows: its `table.<index>` metadata entries, each
/// `offset,rows,width`, in ascending index order.
fn tables(meta: &Map<String, Value>) -> Result<Vec<TableMeta>, String> {
    let mut out = Vec::new();
    for (k, v) in meta {
        let Some(index) = k.strip_prefix("table.") else {
            continue;
        };
        let index = index
            .parse::<usize>()
            .ok()
            .filter(|i| i.to_string() == index)
            .ok_or_else(|| format!("its metadata has an entry {k:?}, not table.<number>"))?;
        let nums: Vec<Option<u64>> = v
            .as_str()
            .map(|v| v.split(',').map(|x| x.parse().ok()).collect())
            .unwrap_or_default();
        let [Some(offset), Some(rows), Some(width)] = nums[..] else {
            return Err(format!("its metadata's {k} is not offset,rows,width"));
        };
        out.push(TableMeta {
            index,
            offset,
            rows,
            width,
        });
    }
    // serde_json keeps keys sorted as strings ("table.10" before "table.2").
    out.sort_by_key(|t| t.index);
    Ok(out)
}

/// The tensor names of a file with sparse tables `tables` (their indices) and `planes`
/// state planes, in data order: the weights first (`params`, then each table's `ids`
/// and `rows`), so a weights-only load stops early, then each state plane (`state.j`,
/// then each table's `state.j.fill` and `state.j`).
pub(crate) fn tensor_names(tables: &[usize], planes: usize) -> Vec<String> {
    let mut v = vec!["params".to_string()];
    for t in tables {
        v.push(format!("table.{t}.ids"));
        v.push(format!("table.{t}.rows"));
    }
    for j in 0..planes {
        v.push(format!("state.{j}"));
        for t in tables {
            v.push(format!("table.{t}.state.{j}.fill"));
            v.push(format!("table.{t}.state.{j}"));
        }
    }
    v
}

/// The element type and rank of the tensor `name` (one of [`tensor_names`]).
fn kind_of(name: &str) -> (Dtype, usize) {
    if name.ends_with(".ids") {
        (Dtype::U32, 1)
    } else if name.starts_with("table.") && !name.ends_with(".fill") {
        (Dtype::F32, 2)
    } else {
        (Dtype::F32, 1)
    }
}

/// The shape of a tensor of `dtype` and `rank` whose data starts at `off`, if its
/// header entry says so and its byte length fits in a u64.
fn tensor_shape(t: &Value, dtype: Dtype, rank: usize, off: u64) -> Option<Vec<u64>> {
    if t.get("dtype")?.as_str()? != dtype.name() {
        return None;
    }
    let shape = t
        .get("shape")?
        .as_array()?
        .iter()
        .map(Value::as_u64)
        .collect::<Option<Vec<u64>>>()?;
    if shape.len() != rank {
        return None;
    }
    let bytes = shape.iter().try_fold(4u64, |n, &d| n.checked_mul(d))?;
    let [a, b] = t.get("data_offsets")?.as_array()?.as_slice() else {
        return None;
    };
    let (a, b) = (a.as_u64()?, b.as_u64()?);
    (a == off && b.checked_sub(a)? == bytes).then_some(shape)
}

/// The offset of the 8 hex digits after `"checksum":"` when they read `value`.
fn find_checksum(bytes: &[u8], value: &str) -> Option<usize> {
    let needle = format!(r#""checksum":"{value}""#);
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())?;
    Some(at + needle.len() - 9)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}
