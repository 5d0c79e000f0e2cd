use vectorflow::Features;

#[derive(Features)]
struct Row(#[hash] String, #[value] f32);

fn main() {}
