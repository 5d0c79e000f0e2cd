//! Any bytes loaded as a model: an error or a net, never a panic, a hang or an
//! allocation sized by the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vectorflow::network;

type Lr = network![Sparse<64> => Linear<1>];
type Mlp = network![Sparse<16> => Linear<4> => ReLU => Linear<1>];

fuzz_target!(|data: &[u8]| {
    if let Ok(net) = Lr::from_reader(data) {
        // Whatever loads writes back to the same bytes it was read from.
        let mut out = Vec::new();
        net.to_writer(&mut out).unwrap();
        assert_eq!(out, data);
    }
    let _ = Mlp::from_reader(data);
    let _ = Mlp::weights_from_reader(data);
});
