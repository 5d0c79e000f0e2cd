//! Any bytes loaded as a model: an error or a net, never a panic, a hang or an
//! allocation sized by the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vectorflow::network;

type Lr = network![Sparse<64> => Linear<1>];
type Mlp = network![Sparse<16> => Linear<4> => ReLU => Linear<1>];

fn bits<'a>(planes: impl Iterator<Item = &'a [f32]>) -> Vec<Vec<u32>> {
    planes
        .map(|p| p.iter().map(|x| x.to_bits()).collect())
        .collect()
}

/// A net's weights and state planes, bit for bit, and its state's counters.
fn image(net: &Lr) -> (Vec<Vec<u32>>, Option<(String, u64, u64)>) {
    let state = net.train_state();
    let planes = net.state_planes();
    let counters = state.map(|s| (s.optimizer().to_string(), s.passes(), s.rows()));
    let weights = net.params().to_vec();
    let all = std::iter::once(&weights[..]).chain(planes.iter().map(Vec::as_slice));
    (bits(all), counters)
}

fuzz_target!(|data: &[u8]| {
    // Whatever loads writes back to bytes that load to the same net, bit for bit; and
    // those bytes are stable: writing what they load gives them again.
    if let Ok(net) = Lr::from_reader(data) {
        let mut out = Vec::new();
        net.to_writer(&mut out).unwrap();
        let back = Lr::from_reader(&out[..]).unwrap();
        assert_eq!(image(&back), image(&net));
        let mut again = Vec::new();
        back.to_writer(&mut again).unwrap();
        assert_eq!(again, out);
    }
    if let Ok(net) = Lr::weights_from_reader(data) {
        let mut out = Vec::new();
        net.to_writer_for_predict(&mut out).unwrap();
        let back = Lr::weights_from_reader(&out[..]).unwrap();
        assert_eq!(image(&back), image(&net));
        assert!(Lr::from_reader(&out[..]).is_err());
    }
    let _ = Mlp::from_reader(data);
    let _ = Mlp::weights_from_reader(data);
});
