// One mistake in the derive gives one error: the fallback impl keeps the row usable.
use vectorflow::Features;

#[derive(Features)]
struct Row<'a> {
    #[hash(nmespace = "x")]
    carrier: &'a str,
}

fn weight_of<R: Features>(r: &R) -> f32 {
    r.weight()
}

fn main() {
    let _ = weight_of(&Row { carrier: "UA" });
}
