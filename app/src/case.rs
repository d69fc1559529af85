//! Letter case, ignored where people expect it to be (`@Émile` mentions
//! `émile`; a mention typed as `@us` suggests `Usman`).
//!
//! In the browser the browser lowercases (`String.prototype.toLowerCase`,
//! the same Unicode default case mapping as Rust's): Rust's own mapping
//! brings its 11.7 KB table into the bundle, 3.6 KB of everyone's download
//! (docs/PERFORMANCE.md, "The WASM bundle, eighth part"). ASCII never
//! leaves Rust.

/// `s` in lower case.
pub fn lower(s: &str) -> String {
    if s.is_ascii() {
        s.to_ascii_lowercase()
    } else {
        lower_unicode(s)
    }
}

/// `a` and `b` are the same letter, case aside: 'É' and 'é' are, 'İ' and
/// 'i' are not ('İ' lowercases to two chars, "i̇").
pub fn same_letter(a: char, b: char) -> bool {
    if a == b {
        return true;
    }
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(&b);
    }
    let mut a_buf = [0; 4];
    let mut b_buf = [0; 4];
    lower_unicode(a.encode_utf8(&mut a_buf)) == lower_unicode(b.encode_utf8(&mut b_buf))
}

#[cfg(all(feature = "hydrate", target_arch = "wasm32"))]
fn lower_unicode(s: &str) -> String {
    js_sys::JsString::from(s).to_lower_case().into()
}

#[cfg(not(all(feature = "hydrate", target_arch = "wasm32")))]
fn lower_unicode(s: &str) -> String {
    s.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_compare_without_their_case() {
        assert_eq!(lower("Usman"), "usman");
        assert_eq!(lower("ÉMILE Zoë"), "émile zoë");
        assert!(same_letter('E', 'e'));
        assert!(same_letter('É', 'é'));
        assert!(same_letter('Σ', 'σ'));
        assert!(!same_letter('e', 'é'));
        assert!(!same_letter('a', 'b'));
    }
}
