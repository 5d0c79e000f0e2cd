use vectorflow::Features;

#[derive(Features)]
struct Row<'a> {
    #[hash(namesapce = "airline")]
    carrier: &'a str,
    #[sparse(namespace = "extra")]
    extra: Vec<(u32, f32)>,
    #[value(foo)]
    distance: f32,
}

fn main() {}
