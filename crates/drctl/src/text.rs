//! Text for a terminal: names shown safely, columns by display width, counts with their plural.

use std::borrow::Cow;

use execution_core::plan::is_control_or_bidi;
use unicode_width::UnicodeWidthStr;

/// `s` with every control and bidi character escaped (`\n`, `\u{1b}`, `\u{202e}`), so that a
/// name from a plan or a message from the record cannot recolour the terminal, forge a line or
/// reorder the text around it. Everything else is left as it is.
pub fn clean(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_control_or_bidi) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_control_or_bidi(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// The columns `s` takes on a terminal (a CJK character takes two).
pub fn width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// `s` padded with spaces to `columns` display columns.
pub fn pad(s: &str, columns: usize) -> String {
    let mut out = s.to_owned();
    out.extend(std::iter::repeat_n(' ', columns.saturating_sub(width(s))));
    out
}

/// `1 wave`, `2 waves`, `0 waves`.
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_bidi_characters_are_escaped_and_the_rest_is_kept() {
        assert_eq!(
            clean("db-01 (primary) 名前 café"),
            "db-01 (primary) 名前 café"
        );
        assert!(matches!(clean("plain"), Cow::Borrowed(_)));
        assert_eq!(clean("red\u{1b}[31m"), "red\\u{1b}[31m");
        assert_eq!(clean("a\nWave 9: COMPLETED"), "a\\nWave 9: COMPLETED");
        assert_eq!(clean("tab\there\r"), "tab\\there\\r");
        assert_eq!(clean("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(
            clean("\u{2066}x\u{2069}\u{9b}"),
            "\\u{2066}x\\u{2069}\\u{9b}"
        );
    }

    #[test]
    fn widths_are_display_columns() {
        assert_eq!(width("web-01"), 6);
        assert_eq!(width("データベース"), 12);
        assert_eq!(pad("データ", 8), "データ  ");
        assert_eq!(pad("longer than", 3), "longer than");
    }

    #[test]
    fn counts_have_their_plural() {
        assert_eq!(count(1, "wave", "waves"), "1 wave");
        assert_eq!(count(2, "wave", "waves"), "2 waves");
        assert_eq!(count(0, "problem", "problems"), "0 problems");
    }
}
