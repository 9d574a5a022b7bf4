//! A tiny glob shared by `--ignore` (rule ids, `Kind/ns/name`) and
//! `check --exclude` (paths): `*` any run of characters, `?` one character.
//! `**` is two `*`s, so `charts/**` matches everything below `charts/`.

/// Does `pat` match all of `s`?
pub fn glob(pat: &str, s: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pat.chars().collect(), s.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(sp) = star {
            pi = sp + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Does an `--exclude` pattern match a path found while walking an input
/// directory? `rel` is the path below that directory, `/`-separated; `dir`
/// says whether it is a directory (then `charts/**` already matches
/// `charts`, so the walk skips it whole). Like `.gitignore`: a pattern
/// without `/` matches a file or directory name at any depth; one with `/`
/// matches the path from the walked directory, and a leading `**/` also
/// matches at the top.
pub fn path_excluded(pat: &str, rel: &str, dir: bool) -> bool {
    let pat = pat.trim_start_matches("./");
    let rel = rel.trim_start_matches("./");
    let candidates: Vec<String> = if dir {
        vec![rel.to_string(), format!("{rel}/")]
    } else {
        vec![rel.to_string()]
    };
    if !pat.trim_end_matches('/').contains('/') {
        let name = rel.rsplit('/').next().unwrap_or(rel);
        return glob(pat.trim_end_matches('/'), name);
    }
    let pat = pat.trim_start_matches('/');
    let pats = match pat.strip_prefix("**/") {
        Some(rest) => vec![pat, rest],
        None => vec![pat],
    };
    pats.iter().any(|p| {
        candidates
            .iter()
            .any(|c| glob(p, c) || glob(p.trim_end_matches('/'), c))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_stars_and_question_marks() {
        assert!(glob("istio-*", "istio-dr-tls-conflict"));
        assert!(glob(
            "NetworkPolicy/*/allow-?",
            "NetworkPolicy/shop/allow-a"
        ));
        assert!(!glob(
            "NetworkPolicy/*/allow-?",
            "NetworkPolicy/shop/allow-ab"
        ));
        assert!(glob("*", ""));
        assert!(!glob("a*b", "acbd"));
    }

    #[test]
    fn exclude_patterns_work_like_gitignore_lines() {
        assert!(path_excluded("charts/**", "charts", true));
        assert!(path_excluded(
            "charts/**",
            "charts/app/templates/x.yaml",
            false
        ));
        assert!(!path_excluded("charts/**", "k8s/charts.yaml", false));
        assert!(path_excluded("charts", "deploy/charts", true));
        assert!(path_excluded("*.json", "a/b/c.json", false));
        assert!(!path_excluded("*.json", "a/b/c.yaml", false));
        assert!(path_excluded("**/templates/**", "templates/x.yaml", false));
        assert!(path_excluded("**/templates/**", "chart/templates", true));
        assert!(path_excluded("./k8s/dev/", "k8s/dev", true));
    }
}
