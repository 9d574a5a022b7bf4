//! Making untrusted text safe to print: evidence comes from logs written by
//! anyone, and an escape sequence in a log line must not drive the terminal.

/// Removes ANSI/OSC escape sequences (7-bit `ESC [`, `ESC ]` … and their
/// 8-bit C1 forms U+009B CSI, U+009D OSC, U+0090 DCS …), other control
/// characters and the bidirectional overrides and isolates (U+202A–U+202E,
/// U+2066–U+2069) that make text read differently from what it is. Keeps tab
/// and newline; a carriage return could overwrite what was printed, so it goes.
pub fn strip_controls(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{9b}' => {
                // C1 CSI: parameters and intermediates, then one final byte.
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            '\u{90}' | '\u{9d}' | '\u{9e}' | '\u{9f}' => {
                // C1 DCS/OSC/PM/APC: until ST (U+009C, ESC \\) or BEL.
                while let Some(c) = chars.next() {
                    if c == '\u{9c}' || c == '\u{7}' {
                        break;
                    }
                    if c == '\u{1b}' && chars.peek() == Some(&'\\') {
                        chars.next();
                        break;
                    }
                }
            }
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => {}
            '\u{1b}' => match chars.peek() {
                Some('[') => {
                    chars.next();
                    // CSI: parameters and intermediates, then one final byte @..~
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                Some(']') | Some('P') | Some('_') | Some('^') => {
                    chars.next();
                    // OSC/DCS/APC/PM: until BEL or ST (ESC \)
                    while let Some(c) = chars.next() {
                        if c == '\u{7}' {
                            break;
                        }
                        if c == '\u{1b}' && chars.peek() == Some(&'\\') {
                            chars.next();
                            break;
                        }
                    }
                }
                _ => {
                    chars.next();
                }
            },
            '\t' | '\n' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Cuts `s` to at most `max` bytes on a char boundary, marking the cut.
pub fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// A Markdown code span holding `s` literally: the fence is one backtick
/// longer than the longest run inside, padded when `s` starts or ends with one.
pub fn md_code(s: &str) -> String {
    let s = strip_controls(s).replace('\n', " ");
    let fence = "`".repeat(longest_run(&s, '`') + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{s}{pad}{fence}")
}

/// A fenced block's fence for `body`: at least three backticks, more than
/// any run inside.
pub fn md_fence(body: &str) -> String {
    "`".repeat((longest_run(body, '`') + 1).max(3))
}

fn longest_run(s: &str, c: char) -> usize {
    let (mut best, mut cur) = (0, 0);
    for x in s.chars() {
        if x == c {
            cur += 1;
            best = best.max(cur);
        } else {
            cur = 0;
        }
    }
    best
}

/// Text for a Markdown paragraph or table cell: controls stripped, HTML and
/// the characters Markdown reads as syntax escaped, one line.
pub fn md_text(s: &str) -> String {
    let mut out = String::new();
    for c in strip_controls(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\n' => out.push(' '),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '!' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// `v` as one POSIX shell word (see [`crate::shell::word`]).
pub fn sh_word(v: &str) -> String {
    crate::shell::word(&strip_controls(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_and_controls_are_removed() {
        let s = "a\u{1b}[31mred\u{1b}[0m \u{1b}]0;title\u{7}b\u{8}c\r\nd";
        assert_eq!(strip_controls(s), "ared bc\nd");
    }

    #[test]
    fn markdown_and_shell_quoting_hold_hostile_names() {
        assert_eq!(md_code("a`b"), "``a`b``");
        assert_eq!(md_code("`x"), "`` `x ``");
        assert_eq!(md_fence("x ```` y"), "`````");
        assert_eq!(
            md_text("<img src=x>*[a](b)*"),
            "&lt;img src=x&gt;\\*\\[a\\](b)\\*"
        );
        assert_eq!(sh_word("shop"), "shop");
        assert_eq!(sh_word("shop$(curl x|sh)"), "'shop$(curl x|sh)'");
        assert_eq!(sh_word("a'b"), "'a'\\''b'");
        assert_eq!(sh_word(""), "''");
    }

    #[test]
    fn c1_sequences_and_bidi_overrides_are_removed() {
        let s = "a\u{9b}31mred\u{9b}0m \u{9d}0;title\u{9c}b \u{202e}evil\u{202c} \u{2067}x\u{2069}";
        assert_eq!(strip_controls(s), "ared b evil x");
    }

    #[test]
    fn clip_respects_char_boundaries() {
        assert_eq!(clip("héllo", 2), "h…");
        assert_eq!(clip("abc", 5), "abc");
    }
}
