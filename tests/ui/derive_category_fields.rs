use vectorflow::Category;

#[derive(Category)]
enum Cabin {
    Economy,
    Business { seat: u8 },
    First(u8),
}

#[derive(Category)]
struct NotAnEnum {
    x: u8,
}

fn main() {}
