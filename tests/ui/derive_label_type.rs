use vectorflow::Features;

#[derive(Features)]
struct Row {
    #[label]
    outcome: String,
    #[weight]
    w: &'static str,
    #[hash]
    site: String,
}

fn main() {}
