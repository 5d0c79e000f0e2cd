use vectorflow::Features;

// `mean` on a field that is no bag of tokens, given a value, and given twice.
#[derive(Features)]
struct Row<'a> {
    #[hash(mean)]
    carrier: &'a str,
    #[value(mean)]
    distance: f32,
    #[tokens(mean = true)]
    words: &'a str,
    #[tokens(mean, mean)]
    tags: &'a str,
}

fn main() {}
