//! The normal form of a person's name used to compare names in the register (look-up by
//! names + birth date + document, and duplicate matching): upper case, `Ё` read as `Е`,
//! hyphens and runs of white space as one space, other punctuation dropped, trimmed.
//! Pure functions, no I/O; called by `erz::status` and duplicate matching.

/// The normal form of `name` (see the module text). `None` for an empty or absent name.
#[must_use]
pub fn normalise(name: Option<&str>) -> Option<String> {
    let mut out = String::new();
    let mut space = false;
    for c in name?.chars() {
        if c.is_whitespace() || c == '-' || c == '\u{2010}' || c == '\u{2011}' {
            space = !out.is_empty();
            continue;
        }
        if !c.is_alphanumeric() {
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        for u in c.to_uppercase() {
            out.push(if u == 'Ё' { 'Е' } else { u });
        }
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::normalise;

    #[test]
    fn forms() {
        assert_eq!(normalise(Some(" Пётр ")).as_deref(), Some("ПЕТР"));
        assert_eq!(
            normalise(Some("римский-корсаков")).as_deref(),
            Some("РИМСКИЙ КОРСАКОВ")
        );
        assert_eq!(
            normalise(Some("Анна  Мария")).as_deref(),
            Some("АННА МАРИЯ")
        );
        assert_eq!(normalise(Some("О'Нил")).as_deref(), Some("ОНИЛ"));
        assert_eq!(normalise(Some(" - ")), None);
        assert_eq!(normalise(None), None);
    }
}
