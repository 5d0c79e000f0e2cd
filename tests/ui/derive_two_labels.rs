use vectorflow::Features;

#[derive(Features)]
struct Row {
    #[label]
    clicked: bool,
    #[label]
    converted: bool,
    #[weight]
    w: f32,
    #[weight]
    w2: f32,
    #[hash]
    site: String,
}

fn main() {}
