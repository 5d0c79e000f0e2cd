//! Model files whose checksums are made right before loading: the bytes' header is
//! parsed, every tensor's `crc32.<name>` and the header checksum are recomputed, then the
//! file is loaded. The checksums stop almost every mutation of `model_file` at the first
//! CRC; here mutations reach the structural checks behind them (tensor shapes, table
//! places, row ids), which must give an error or a net, never a panic, a hang or an
//! allocation sized by the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};
use vectorflow::network;

type Lr = network![Sparse<64> => Linear<1>];
type Mlp = network![Sparse<16> => Linear<4> => ReLU => Linear<1>];

/// `data` with its checksums recomputed, or `None` if its header is not a JSON object
/// with a metadata map.
fn sealed(data: &[u8]) -> Option<Vec<u8>> {
    let n = u64::from_le_bytes(data.get(..8)?.try_into().ok()?) as usize;
    let body = data.get(8..8usize.checked_add(n)?)?;
    let tensors = &data[8 + n..];
    let Value::Object(mut root) = serde_json::from_slice(body).ok()? else {
        return None;
    };
    let Some(Value::Object(mut meta)) = root.remove("__metadata__") else {
        return None;
    };
    for (name, entry) in &root {
        let off = entry.get("data_offsets")?.as_array()?;
        let (a, b) = (off.first()?.as_u64()? as usize, off.get(1)?.as_u64()? as usize);
        if let Some(bytes) = tensors.get(a..b) {
            let crc = format!("{:08x}", crc32fast::hash(bytes));
            meta.insert(format!("crc32.{name}"), Value::String(crc));
        }
    }
    meta.insert("checksum".into(), Value::String("00000000".into()));
    let mut all = Map::new();
    all.insert("__metadata__".into(), Value::Object(meta));
    all.extend(root);
    let mut text = Value::Object(all).to_string();
    while !text.len().is_multiple_of(8) {
        text.push(' ');
    }
    let mut out = (text.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(text.as_bytes());
    let crc = format!("{:08x}", crc32fast::hash(&out));
    let at = text.find(r#""checksum":"00000000""#)? + 12;
    out[8 + at..16 + at].copy_from_slice(crc.as_bytes());
    out.extend_from_slice(tensors);
    Some(out)
}

fuzz_target!(|data: &[u8]| {
    let Some(file) = sealed(data) else { return };
    if let Ok(net) = Lr::from_reader(&file[..]) {
        // Whatever loads writes back to bytes that load to the same weights.
        let mut out = Vec::new();
        net.to_writer(&mut out).unwrap();
        let back = Lr::from_reader(&out[..]).unwrap();
        let bits = |p: &vectorflow::weights::Weights| p.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(back.params()), bits(net.params()));
    }
    let _ = Lr::weights_from_reader(&file[..]);
    let _ = Mlp::from_reader(&file[..]);
    let _ = Mlp::weights_from_reader(&file[..]);
});
