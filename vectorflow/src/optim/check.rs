//! Range checks of optimizer settings, run before training starts.

/// `Ok` if `v` is finite and above 0; else why not, naming `opt`'s setting `name`.
pub(crate) fn positive(opt: &str, name: &str, v: f32) -> Result<(), String> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(format!(
            "{opt}'s {name} must be finite and above 0, not {v}"
        ))
    }
}

/// `Ok` if `v` is finite and at least 0.
pub(crate) fn non_negative(opt: &str, name: &str, v: f32) -> Result<(), String> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(format!(
            "{opt}'s {name} must be finite and at least 0, not {v}"
        ))
    }
}

/// `Ok` if `v` is in [0, 1), as moment decays and momentum must be.
pub(crate) fn fraction(opt: &str, name: &str, v: f32) -> Result<(), String> {
    if (0.0..1.0).contains(&v) {
        Ok(())
    } else {
        Err(format!("{opt}'s {name} must be in [0, 1), not {v}"))
    }
}
