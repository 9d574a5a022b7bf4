//! Quoting for POSIX shell commands that meshdoc prints for people to paste.
//! A leaf module: facts, rules and reports all render commands.

/// `v` as one POSIX shell word: unchanged when it holds only characters no
/// shell reads specially, else single-quoted (`'` written `'\\''`). Control
/// characters are dropped first.
pub fn word(v: &str) -> String {
    let v: String = v.chars().filter(|c| !c.is_control()).collect();
    if !v.is_empty()
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-:/=@%+,".contains(&b))
    {
        return v;
    }
    format!("'{}'", v.replace('\'', "'\\''"))
}
