//! Small helpers any layer may use (a leaf: it imports nothing of meshdoc).

/// Thousands grouping for counts shown to people: 1204 → "1,204".
pub fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::group;

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(1204), "1,204");
        assert_eq!(group(1_234_567), "1,234,567");
    }
}
