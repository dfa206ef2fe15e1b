//! Text from outside (caller input, a service's message) quoted in a message of ours.

/// How much caller input a message quotes.
pub const QUOTE_CHARS: usize = 64;

/// At most `max_chars` characters of `raw` (characters, not bytes: never cut inside one), with
/// `…` when something was left out.
pub fn clip(raw: &str, max_chars: usize) -> String {
    let mut chars = raw.chars();
    let mut out: String = chars.by_ref().take(max_chars).collect();
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clips_by_characters_and_marks_the_cut() {
        assert_eq!(clip("abc", 3), "abc");
        assert_eq!(clip("abcd", 3), "abc…");
        assert_eq!(clip("ééé€", 2), "éé…");
        assert_eq!(clip("", 0), "");
        assert_eq!(clip("a", 0), "…");
    }
}
