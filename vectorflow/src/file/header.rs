//! The header of a model file: a safetensors header (an 8-byte little-endian length, then
//! JSON) whose `__metadata__` says what the model is and carries the checksums.

use super::error::{ModelError, ModelErrorKind};
use crate::optim::MAX_STATE;
use serde_json::{json, Map, Value};
use std::io::Read;

/// The `format` every vectorflow model file declares in its metadata.
pub const FORMAT: &str = "vectorflow";
/// The newest format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// No vectorflow header comes near this; a longer one is another kind of file (and is
/// never allocated).
const MAX_HEADER: u64 = 1 << 20;
/// The header checksum is computed with its own value written as this.
const PLACEHOLDER: &str = "00000000";

/// What a model file holds, besides the tensor bytes.
#[derive(Debug, PartialEq)]
pub(crate) struct Meta {
    pub topology: String,
    pub inputs: String,
    pub hashing: String,
    pub params: u64,
    /// The training state's optimizer kind, passes and rows, when the file has one.
    pub state: Option<(String, u64, u64)>,
    /// The tensors in data order: `params`, then `state.0`, `state.1`, ...
    pub tensors: Vec<Tensor>,
}

/// One tensor of f32s: its name, length in floats and CRC-32 of its bytes.
#[derive(Debug, PartialEq)]
pub(crate) struct Tensor {
    pub name: String,
    pub len: u64,
    pub crc: u32,
}

impl Meta {
    /// The bytes of all tensors.
    pub fn data_len(&self) -> u64 {
        self.tensors.iter().map(|t| 4 * t.len).sum()
    }
}

/// The header bytes (length prefix included), padded so the data is 8-byte aligned.
pub(crate) fn encode(m: &Meta) -> Vec<u8> {
    let mut meta = Map::new();
    let mut put = |k: &str, v: String| meta.insert(k.to_string(), Value::String(v));
    put("format", FORMAT.into());
    put("format_version", FORMAT_VERSION.to_string());
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
    for t in &m.tensors {
        put(&format!("crc32.{}", t.name), format!("{:08x}", t.crc));
    }
    put("checksum", PLACEHOLDER.into());
    let mut root = Map::new();
    root.insert("__metadata__".into(), Value::Object(meta));
    let mut off = 0u64;
    for t in &m.tensors {
        let end = off + 4 * t.len;
        root.insert(
            t.name.clone(),
            json!({"dtype": "F32", "shape": [t.len], "data_offsets": [off, end]}),
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
pub(crate) fn decode(r: &mut impl Read) -> Result<(Meta, u64), ModelError> {
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
    if root.len() - 1 > 1 + MAX_STATE {
        return Err(corrupt(format!(
            "the header lists {} tensors; a model has at most {}",
            root.len() - 1,
            1 + MAX_STATE
        )));
    }
    let mut tensors = Vec::new();
    let mut off = 0u64;
    for (i, expected) in tensor_names(root.len() - 1).enumerate() {
        let Some(t) = root.get(&expected) else {
            return Err(corrupt(format!("the header has no tensor {expected}")));
        };
        let len = tensor_len(t, off)
            .ok_or_else(|| corrupt(format!("tensor {expected} is not F32 data at offset {off}")))?;
        if i > 0 && state.is_none() {
            return Err(corrupt("state tensors without an optimizer".into()));
        }
        let crc = get(&format!("crc32.{expected}"))
            .and_then(|c| u32::from_str_radix(c, 16).ok())
            .ok_or_else(|| corrupt(format!("tensor {expected} has no checksum")))?;
        off += 4 * len;
        tensors.push(Tensor {
            name: expected,
            len,
            crc,
        });
    }
    if tensors.is_empty() {
        return Err(corrupt("the header has no params tensor".into()));
    }
    let meta = Meta {
        topology: field("topology")?,
        inputs: field("inputs")?,
        hashing: field("hashing")?,
        params: number("params")?,
        state,
        tensors,
    };
    Ok((meta, 8 + n))
}

/// The tensor names of a file with `n` tensors, in data order.
pub(crate) fn tensor_names(n: usize) -> impl Iterator<Item = String> {
    std::iter::once("params".to_string())
        .chain((0..MAX_STATE).map(|j| format!("state.{j}")))
        .take(n)
}

/// The length in floats of an F32 vector tensor whose data starts at `off`.
fn tensor_len(t: &Value, off: u64) -> Option<u64> {
    if t.get("dtype")?.as_str()? != "F32" {
        return None;
    }
    let [len] = t.get("shape")?.as_array()?.as_slice() else {
        return None;
    };
    let len = len.as_u64()?;
    let [a, b] = t.get("data_offsets")?.as_array()?.as_slice() else {
        return None;
    };
    let (a, b) = (a.as_u64()?, b.as_u64()?);
    (a == off && b.checked_sub(a)? == len.checked_mul(4)?).then_some(len)
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

/// Reads until `buf` is full or the input ends; the bytes read.
pub(crate) fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
