use vectorflow::Features;

#[derive(Features)]
#[features(crosses(a, b))]
#[hash]
struct Row<'a> {
    #[hash]
    a: &'a str,
    #[hash]
    b: &'a str,
    #[features(cross(a, b))]
    c: u8,
    #[label = "y"]
    y: bool,
}

fn main() {}
