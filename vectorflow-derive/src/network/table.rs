//! The layer table of `network!`: the built-in layer names and what each stands for.
//! A new built-in activation is one row here; a new kind of layer also takes its arm in
//! `check.rs` (its arguments) and `expand.rs` (its type).

use syn::Error;

/// What a built-in layer name stands for.
pub enum Builtin {
    Linear,
    /// `Act<vectorflow::layers::F>`: the same layer as a user's `Act<F>`.
    Act(&'static str),
    Dropout,
}

/// Every built-in layer name. Any other path in the stack is a user type implementing
/// `Layer`, and `Act<F>` a user's activation.
const TABLE: &[(&str, Builtin)] = &[
    ("Linear", Builtin::Linear),
    ("ReLU", Builtin::Act("ReLU")),
    ("TanH", Builtin::Act("TanH")),
    ("Sigmoid", Builtin::Act("Sigmoid")),
    ("SeLU", Builtin::Act("SeLU")),
    ("Dropout", Builtin::Dropout),
];

/// The built-in layer of this name.
pub fn builtin(name: &str) -> Option<&'static Builtin> {
    TABLE.iter().find(|(n, _)| *n == name).map(|(_, b)| b)
}

/// Whether `name` is an input layer, which comes before the stack.
pub fn is_input(name: &str) -> bool {
    name == "Sparse" || name == "Dense"
}

/// A lone name that differs from a built-in only in case (`Relu`) is a typo far more
/// often than a type of the user's: say so, and how to write such a type.
pub fn near_miss(path: &syn::TypePath) -> Option<Error> {
    let ident = path.path.get_ident()?;
    let name = ident.to_string();
    let (hit, _) = TABLE.iter().find(|(n, _)| n.eq_ignore_ascii_case(&name))?;
    Some(Error::new(
        ident.span(),
        format!(
            "unknown layer `{name}`; did you mean `{hit}`? Layer names are case-sensitive (a layer type of your own named `{name}` is written with its path, e.g. `self::{name}`)"
        ),
    ))
}
