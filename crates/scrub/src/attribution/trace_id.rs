//! Trace ids as attribution keys: 32 hex digits, read as a number so that case and UUID
//! dashes never make two traces of one.

use std::fmt;

/// A trace id (W3C / Sentry: 16 bytes as 32 hex digits). The all-zero id is invalid (W3C)
/// and is not a trace: items a broken SDK sends with it must not share a company.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId(pub u128);

impl TraceId {
    /// Reads `32 hex digits` or the UUID form `8-4-4-4-12`, in any case; `None` otherwise.
    pub fn parse(s: &str) -> Option<TraceId> {
        let b = s.as_bytes();
        let dash = |i: usize| matches!(i, 8 | 13 | 18 | 23);
        let uuid = b.len() == 36 && (0..36).filter(|i| dash(*i)).all(|i| b[i] == b'-');
        if b.len() != 32 && !uuid {
            return None;
        }
        let mut v: u128 = 0;
        for (i, c) in b.iter().enumerate() {
            if uuid && dash(i) {
                continue;
            }
            v = (v << 4) | u128::from(char::from(*c).to_digit(16)?);
        }
        (v != 0).then_some(TraceId(v))
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::TraceId;

    #[test]
    fn hex_and_uuid_forms_are_one_trace() {
        let a = TraceId::parse("771a43a4192642f0b136d5159a501700").unwrap();
        assert_eq!(TraceId::parse("771A43A4192642F0B136D5159A501700"), Some(a));
        assert_eq!(
            TraceId::parse("771a43a4-1926-42f0-b136-d5159a501700"),
            Some(a)
        );
        assert_eq!(a.to_string(), "771a43a4192642f0b136d5159a501700");
    }

    #[test]
    fn anything_else_is_no_trace() {
        for bad in [
            "",
            "771a43a4192642f0b136d5159a50170",
            "771a43a4192642f0b136d5159a5017000",
            "771a43a4192642f0b136d5159a50170g",
            "771a43a4-1926-42f0-b136d5159a501700",
            "771a43a41-926-42f0-b136-d5159a501700",
            "00000000000000000000000000000000",
            "+71a43a4192642f0b136d5159a501700",
        ] {
            assert_eq!(TraceId::parse(bad), None, "{bad:?}");
        }
    }
}
