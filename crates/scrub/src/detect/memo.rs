//! What one scan of a string remembers between seeds, so that no byte is walked again and
//! again from seed after seed.
//!
//! Most validators look at a window bounded by the longest match they can make (an email's
//! 64 + 255 bytes, a card's 19 digits). A few matches have no such bound: the value after a
//! secret key runs to its terminator (`password=…`), a vendor key's body to the end of its
//! characters (`sk-…`), a PEM key to its `-----END` line. Walking that far from every seed
//! costs the square of the input when seeds repeat inside one run (`password=password=…`,
//! 163 bytes of zstd, was 12 s of CPU for 200 KB: issue 27, finding 1). A run is maximal, so
//! every seed inside it ends at the same place: the first walk is remembered and the next
//! seeds inside the run read its end (and whether it holds a letter or a digit) at once.

use super::text::is_word;

/// The byte classes whose maximal runs are remembered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    /// An unquoted secret value: up to whitespace or `&,;"'()[]{}<>\` (and NUL).
    Bare,
    /// A secret value opened by `"`: up to the closing quote or the end of the line.
    DoubleQuoted,
    /// A secret value opened by `'`: up to the closing quote or the end of the line.
    SingleQuoted,
    /// `[A-Za-z0-9]`.
    Alnum,
    /// `[A-Za-z0-9_]`.
    Word,
    /// `[A-Za-z0-9_-]`.
    WordDash,
    /// `[A-Za-z0-9-]`.
    AlnumDash,
    /// `[A-Za-z0-9+/=_]` (Sentry org tokens).
    Base64Word,
    /// `[A-Z0-9]` (AWS key ids).
    UpperDigit,
    /// `[0-9a-f]` (Sentry user tokens).
    LowerHex,
}

const CLASSES: usize = 10;

impl Class {
    fn slot(self) -> usize {
        self as usize
    }

    /// Does `c` continue a run of this class?
    pub(crate) fn has(self, c: u8) -> bool {
        match self {
            Class::Bare => c != 0 && !ends_bare_value(c),
            Class::DoubleQuoted => c != b'"' && c != b'\n',
            Class::SingleQuoted => c != b'\'' && c != b'\n',
            Class::Alnum => c.is_ascii_alphanumeric(),
            Class::Word => is_word(c),
            Class::WordDash => is_word(c) || c == b'-',
            Class::AlnumDash => c.is_ascii_alphanumeric() || c == b'-',
            Class::Base64Word => is_word(c) || matches!(c, b'+' | b'/' | b'='),
            Class::UpperDigit => c.is_ascii_uppercase() || c.is_ascii_digit(),
            Class::LowerHex => c.is_ascii_digit() || (b'a'..=b'f').contains(&c),
        }
    }

    /// The bytes a run of this class is asked about: a letter, digit or non-ASCII byte for
    /// a secret value (a value without one is syntax), a digit for a key body.
    fn marks(self, c: u8) -> bool {
        match self {
            Class::Bare | Class::DoubleQuoted | Class::SingleQuoted => {
                c.is_ascii_alphanumeric() || c >= 0x80
            }
            _ => c.is_ascii_digit(),
        }
    }
}

/// Ends an unquoted secret value.
pub(crate) fn ends_bare_value(c: u8) -> bool {
    c.is_ascii_whitespace() || b"&,;\"'()[]{}<>\\".contains(&c)
}

/// The run of one class walked last: `start..end`, maximal on the right, and its last
/// marked byte.
#[derive(Clone, Copy, Debug)]
struct Run {
    start: usize,
    end: usize,
    last_mark: Option<usize>,
}

/// Where a run that starts at a given byte ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Extent {
    /// One past the run's last byte.
    pub(crate) end: usize,
    /// Whether the run from the asked start holds a marked byte ([`Class`]).
    pub(crate) marked: bool,
}

/// The memory of one scan.
#[derive(Debug, Default)]
pub(crate) struct Memo {
    runs: [Option<Run>; CLASSES],
    /// The last search for `-----END `: from where, and what it found.
    pem_end: Option<(usize, Option<usize>)>,
}

impl Memo {
    /// The maximal run of `class` in `b` starting at `from`. A start inside the run walked
    /// last (of this class) is answered without walking; a walk that reaches that run's
    /// start jumps to its end. Seeds come left to right, so every byte is walked about once
    /// per class.
    pub(crate) fn extent(&mut self, b: &[u8], class: Class, from: usize) -> Extent {
        let slot = &mut self.runs[class.slot()];
        if let Some(r) = *slot {
            if r.start <= from && from <= r.end {
                return Extent {
                    end: r.end,
                    marked: r.last_mark.is_some_and(|m| m >= from),
                };
            }
        }
        let mut j = from;
        let mut last_mark = None;
        while j < b.len() && class.has(b[j]) {
            if let Some(r) = slot.filter(|r| r.start == j) {
                last_mark = r.last_mark.or(last_mark);
                j = r.end;
                break;
            }
            if class.marks(b[j]) {
                last_mark = Some(j);
            }
            j += 1;
        }
        crate::work::charge(j - from + 1);
        *slot = Some(Run {
            start: from,
            end: j,
            last_mark,
        });
        Extent {
            end: j,
            marked: last_mark.is_some(),
        }
    }

    /// The first `needle` (the PEM end marker) at or after `from`, searched once for all
    /// the seeds before it.
    pub(crate) fn next_pem_end(&mut self, b: &[u8], needle: &[u8], from: usize) -> Option<usize> {
        if let Some((searched, found)) = self.pem_end {
            if searched <= from && found.is_none_or(|f| from <= f) {
                return found;
            }
        }
        let found = b
            .get(from..)
            .and_then(|tail| memchr::memmem::find(tail, needle))
            .map(|k| from + k);
        crate::work::charge(found.unwrap_or(b.len()).saturating_sub(from) + needle.len());
        self.pem_end = Some((from, found));
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_inside_a_run_share_its_end_and_marks() {
        let b = b"password=password=password= next";
        let mut m = Memo::default();
        let first = m.extent(b, Class::Bare, 9);
        assert_eq!(
            first,
            Extent {
                end: 27,
                marked: true
            }
        );
        let before = crate::work::units();
        assert_eq!(
            m.extent(b, Class::Bare, 18),
            Extent {
                end: 27,
                marked: true
            }
        );
        assert_eq!(crate::work::units(), before, "answered without walking");
        assert_eq!(
            m.extent(b, Class::Bare, 27),
            Extent {
                end: 27,
                marked: false
            }
        );
        // A walk that reaches the remembered run jumps to its end.
        let b = b"ab==cd==";
        let mut m = Memo::default();
        assert_eq!(
            m.extent(b, Class::Bare, 4),
            Extent {
                end: 8,
                marked: true
            }
        );
        assert_eq!(
            m.extent(b, Class::Bare, 2),
            Extent {
                end: 8,
                marked: true
            }
        );
        assert_eq!(
            m.extent(b, Class::Bare, 6),
            Extent {
                end: 8,
                marked: false
            }
        );
    }

    #[test]
    fn the_pem_end_is_searched_once_for_the_seeds_before_it() {
        let b = b"-----BEGIN x -----BEGIN y -----END z -----END w";
        let mut m = Memo::default();
        assert_eq!(m.next_pem_end(b, b"-----END ", 10), Some(26));
        assert_eq!(m.next_pem_end(b, b"-----END ", 23), Some(26));
        assert_eq!(m.next_pem_end(b, b"-----END ", 30), Some(37));
        assert_eq!(m.next_pem_end(b, b"-----END ", 44), None);
    }
}
