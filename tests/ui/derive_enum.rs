use vectorflow::Features;

#[derive(Features)]
enum Row {
    A,
    B,
}

fn main() {}
