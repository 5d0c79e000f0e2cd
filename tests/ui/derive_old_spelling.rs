use vectorflow::Features;

#[derive(Features)]
struct Row<'a> {
    #[feature(hash)]
    carrier: &'a str,
}

fn main() {}
