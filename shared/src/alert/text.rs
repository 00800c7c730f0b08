//! The two checks every free-text field of an alert gets (so they run for every string of
//! every accepted alert), both over the bytes: its length in characters, counted only when
//! the bytes exceed the limit, and whether it holds a control character.

/// Whether `text` has more than `max` characters; no count when its bytes already fit
/// (a character is at least one byte).
pub(super) fn longer_than(text: &str, max: usize) -> bool {
    text.len() > max && text.chars().count() > max
}

/// Whether `text` holds a control character (Unicode's `Cc`: C0, DEL and C1) other than a
/// newline or a tab, found in one pass over its bytes: C0 and DEL are single bytes, and C1
/// (U+0080–U+009F) is encoded as 0xC2 followed by 0x80–0x9F, a pair no other character
/// makes (0xC2 only ever leads).
pub(super) fn has_control(text: &str) -> bool {
    let bytes = text.as_bytes();
    // Nearly every text has none: a pass without early exit (so the compiler vectorises it)
    // says so, before the exact pass below looks at what it flagged.
    let suspect = bytes.iter().fold(false, |seen, &b| {
        seen | (b < 0x20) | (b == 0x7f) | (b == 0xc2)
    });
    if !suspect {
        return false;
    }
    bytes.iter().enumerate().any(|(i, &b)| match b {
        b'\n' | b'\t' => false,
        0x00..=0x1f | 0x7f => true,
        0xc2 => bytes
            .get(i + 1)
            .is_some_and(|next| (0x80..=0x9f).contains(next)),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_found_as_char_is_control_finds_them() {
        for c in (0..=0x10ffff).filter_map(char::from_u32) {
            let expected = c.is_control() && c != '\n' && c != '\t';
            // After a character of two bytes, before one of one.
            let text = format!("é{c}x");
            assert_eq!(has_control(&text), expected, "U+{:04X}", c as u32);
        }
    }

    #[test]
    fn length_is_counted_in_characters_not_bytes() {
        assert!(!longer_than("ééé", 3));
        assert!(longer_than("éééé", 3));
        assert!(!longer_than("abc", 3));
        assert!(longer_than("abcd", 3));
    }
}
