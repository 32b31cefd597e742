//! Source context lines with the literals masked.
//!
//! A frame's `pre_context`, `context_line` and `post_context` are lines of the application's
//! own source. The code itself is the vendor's business (the support engineer reads it), but
//! what is written *in* it is not: string literals (`raise ValueError(f"no quote for
//! {client}")`, a hard-coded customer name, an API key) and comments. They are off by
//! default; when an operator turns them on, [`mask_lines`] keeps the code and masks every
//! string literal's content and every comment with [`MASK`].
//!
//! The lines of one frame are consecutive, so the scanner carries its state from one line
//! to the next: a triple-quoted string, a JavaScript template literal or a `/* … */` comment
//! opened on one line stays masked on the following ones. What it cannot know is a string
//! opened *above* the first line shown; that text is masked only by the detectors that run
//! afterwards, which is why the lines are off by default.

/// What a masked literal's content or a comment's text becomes.
pub const MASK: &str = "***";

/// A construct left open at the end of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    /// A string closed by this delimiter (`'''`, `"""`, `` ` ``).
    Str(&'static str),
    /// A `/* … */` block comment.
    Block,
}

/// Masks string literals and comments in consecutive source lines, in place. Returns how
/// many lines changed.
///
/// ```
/// use scrub::normalize::source::mask_lines;
///
/// let mut lines = vec![
///     "    msg = f\"no quote for {client}\"  # ACME asked".to_owned(),
///     "    doc = '''Annual report".to_owned(),
///     "    of Zephyrine Canarywood'''".to_owned(),
///     "    return render(request, 'quote.html', {'n': 42})".to_owned(),
/// ];
/// mask_lines(&mut lines);
/// assert_eq!(lines, [
///     "    msg = f\"***\"  # ***",
///     "    doc = '''***",
///     "***'''",
///     "    return render(request, '***', {'***': 42})",
/// ]);
/// ```
pub fn mask_lines(lines: &mut [String]) -> usize {
    let mut open = None;
    let mut changed = 0;
    for line in lines.iter_mut() {
        let (masked, still_open) = mask_line(line, open);
        open = still_open;
        if let Some(m) = masked {
            *line = m;
            changed += 1;
        }
    }
    changed
}

/// Masks one line given what was left open before it: the new text (`None` when unchanged)
/// and what is still open at its end.
fn mask_line(line: &str, mut open: Option<Open>) -> (Option<String>, Option<Open>) {
    crate::work::charge(line.len());
    let b = line.as_bytes();
    let mut out = super::Rewriter::new(line);
    let mut i = 0;
    // Resume inside what the previous line left open.
    if let Some(o) = open {
        match close_of(b, 0, o) {
            Some((content_end, after)) => {
                mask_range(&mut out, 0, content_end);
                i = after;
                open = None;
            }
            None => {
                mask_range(&mut out, 0, b.len());
                return (out.finish(), open);
            }
        }
    }
    while i < b.len() {
        let c = b[i];
        // `#` (Python, Ruby, shell) and `//` (C-like languages) open a comment outside a
        // string. Where they are code instead (a JavaScript private field, Python's floor
        // division) the rest of the line is masked: less to read, nothing leaked.
        if c == b'#' || c == b'/' && b.get(i + 1) == Some(&b'/') {
            let start = if c == b'#' { i + 1 } else { i + 2 };
            let start = skip_space(b, start);
            mask_range(&mut out, start, b.len());
            return (out.finish(), None);
        }
        if c == b'/' && b.get(i + 1) == Some(&b'*') {
            match close_of(b, i + 2, Open::Block) {
                Some((end, after)) => {
                    mask_range(&mut out, i + 2, end);
                    i = after;
                    continue;
                }
                None => {
                    mask_range(&mut out, i + 2, b.len());
                    return (out.finish(), Some(Open::Block));
                }
            }
        }
        let delim: Option<&'static str> = match c {
            b'\'' if b[i..].starts_with(b"'''") => Some("'''"),
            b'"' if b[i..].starts_with(b"\"\"\"") => Some("\"\"\""),
            b'\'' => Some("'"),
            b'"' => Some("\""),
            b'`' => Some("`"),
            _ => None,
        };
        let Some(d) = delim else {
            i += 1;
            continue;
        };
        let start = i + d.len();
        match close_of(b, start, Open::Str(d)) {
            Some((end, after)) => {
                mask_range(&mut out, start, end);
                i = after;
            }
            None => {
                mask_range(&mut out, start, b.len());
                // Single quotes do not span lines; an unterminated one is masked to the end.
                let carried = (d.len() == 3 || d == "`").then_some(Open::Str(d));
                return (out.finish(), carried);
            }
        }
    }
    (out.finish(), open)
}

/// Where the construct `o` that started before `from` closes: `(content_end, after_close)`.
fn close_of(b: &[u8], from: usize, o: Open) -> Option<(usize, usize)> {
    let delim: &[u8] = match o {
        Open::Str(d) => d.as_bytes(),
        Open::Block => b"*/",
    };
    let escapes = matches!(o, Open::Str(_));
    let mut j = from;
    while j < b.len() {
        if escapes && b[j] == b'\\' {
            j += 2;
            continue;
        }
        if b[j..].starts_with(delim) {
            return Some((j, j + delim.len()));
        }
        j += 1;
    }
    None
}

fn skip_space(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i] == b' ' {
        i += 1;
    }
    i
}

/// Replaces `start..end` with [`MASK`] unless it is empty. Cuts fall on ASCII bytes or the
/// end of the line, so they are `char` boundaries.
fn mask_range(out: &mut super::Rewriter<'_>, start: usize, end: usize) {
    if start < end {
        out.replace(start, end, MASK);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(lines: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = lines.iter().map(|s| (*s).to_owned()).collect();
        mask_lines(&mut v);
        v
    }

    #[test]
    fn code_without_literals_is_unchanged() {
        let mut v = vec!["    total = sum(x.amount for x in rows)".to_owned()];
        assert_eq!(mask_lines(&mut v), 0);
    }

    #[test]
    fn escapes_quotes_inside_strings_and_prefixes() {
        assert_eq!(
            masked(&[r#"x = rb'it\'s' + "a \"b\"" + `t ${name}`"#]),
            [r#"x = rb'***' + "***" + `***`"#]
        );
    }

    #[test]
    fn block_comments_and_template_literals_span_lines() {
        assert_eq!(
            masked(&["a = 1 /* Zephyrine", "  still */ b = `x", "y` + c // note"]),
            ["a = 1 /****", "****/ b = `***", "***` + c // ***"]
        );
    }

    #[test]
    fn unterminated_single_quote_masks_to_the_end_of_its_line_only() {
        assert_eq!(
            masked(&["s = 'a' + 'bc", "t = 1"]),
            ["s = '***' + '***", "t = 1"]
        );
    }

    #[test]
    fn non_ascii_content_is_masked_on_char_boundaries() {
        assert_eq!(masked(&["n = \"Zéphyrine\" # café"]), ["n = \"***\" # ***"]);
    }

    #[test]
    fn comments_need_no_space_before_them() {
        assert_eq!(
            masked(&["x = 1#Zephyrine", "y = a//b"]),
            ["x = 1#***", "y = a//***"]
        );
    }
}
