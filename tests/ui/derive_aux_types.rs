use vectorflow::Features;

// #[aux] values are copied beside each streamed row and into the cache: plain numbers.
#[derive(Features)]
struct Row<'a, T> {
    #[hash]
    shop: &'a str,
    #[aux]
    note: String,
    #[aux]
    city: &'a str,
    #[aux]
    extra: T,
    #[aux(days)]
    days: f32,
    #[aux]
    #[value]
    visits: u16,
}

fn main() {}
