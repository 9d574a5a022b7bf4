//! `meshdoc rules list|show|test|schema|facts|patterns`.

use super::{Code, Global, print};
use crate::report::Format;
use anyhow::bail;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum RulesCmd {
    /// List every loaded rule.
    List,
    /// Show one rule's full documentation.
    Show { id: String },
    /// Run every rule's firing and quiet examples.
    Test,
    /// Print the JSON Schema of the rule file format.
    Schema,
    /// List the object facts rules may use in `fact:` signals.
    Facts,
    /// Print every text pattern, one per line (for `rg -f` / `grep -E -f` comparisons).
    Patterns,
}

pub fn run(cmd: RulesCmd, g: &Global) -> anyhow::Result<Code> {
    if matches!(cmd, RulesCmd::Schema) {
        let schema = schemars::schema_for!(crate::rules::schema::RuleFile);
        print(&(serde_json::to_string_pretty(&schema)? + "\n"))?;
        return Ok(Code::Clean);
    }
    if matches!(cmd, RulesCmd::Facts) {
        let mut s = String::new();
        for (n, d) in crate::facts::KNOWN_FACTS {
            s.push_str(&format!("{n}\n    {d}\n"));
        }
        print(&s)?;
        return Ok(Code::Clean);
    }
    let rules = super::load_rules_with_examples(g)?;
    match cmd {
        RulesCmd::List => {
            if matches!(g.output, Format::Json | Format::Yaml) {
                let v = serde_json::json!({
                    "version": crate::report::REPORT_VERSION,
                    "rules": rules.rules.iter().map(super::explain::rule_json).collect::<Vec<_>>(),
                });
                let s = if g.output == Format::Json {
                    serde_json::to_string_pretty(&v)? + "\n"
                } else {
                    serde_saphyr::to_string(&v)?
                };
                print(&s)?;
            } else {
                let mut t = comfy_table::Table::new();
                t.load_preset(comfy_table::presets::NOTHING);
                t.set_header(vec!["ID", "MESH", "SEVERITY", "TITLE"]);
                for r in &rules.rules {
                    t.add_row(vec![
                        r.id.clone(),
                        format!("{:?}", r.mesh).to_lowercase(),
                        format!("{:?}", r.severity).to_lowercase(),
                        r.title.clone(),
                    ]);
                }
                print(&format!("{t}\n"))?;
            }
            Ok(Code::Clean)
        }
        RulesCmd::Show { id } => match rules.get(&id) {
            Some(r) => {
                super::explain::show_rule(r, g)?;
                Ok(Code::Clean)
            }
            None => {
                let near = crate::suggest::ranked(&id, rules.ids(), 3);
                bail!(
                    "no rule `{id}`{}",
                    if near.is_empty() {
                        String::new()
                    } else {
                        format!("; did you mean: {}?", near.join(", "))
                    }
                )
            }
        },
        RulesCmd::Test => {
            let outcomes = crate::engine::examples::run_all(&rules);
            let misses: Vec<_> = outcomes
                .iter()
                .filter(|o| !o.passed && o.expect == crate::rules::Expect::Fire)
                .collect();
            let alarms: Vec<_> = outcomes
                .iter()
                .filter(|o| !o.passed && o.expect == crate::rules::Expect::Quiet)
                .collect();
            if matches!(g.output, Format::Json | Format::Yaml) {
                let v = serde_json::json!({"version": crate::report::REPORT_VERSION, "examples": outcomes.len(), "misses": misses, "false_alarms": alarms});
                print(&(serde_json::to_string_pretty(&v)? + "\n"))?;
            } else {
                let mut s = String::new();
                for (title, list) in [
                    ("Misses (firing examples that did not rank)", &misses),
                    (
                        "False alarms (quiet examples that raised the rule)",
                        &alarms,
                    ),
                ] {
                    if !list.is_empty() {
                        s.push_str(&format!("{title}:\n"));
                        for o in list.iter() {
                            s.push_str(&format!(
                                "  {} / {}: rank {} (top: {}){}\n",
                                o.rule,
                                o.example,
                                o.rank.map(|r| r.to_string()).unwrap_or_else(|| "-".into()),
                                o.top.join(", "),
                                o.error
                                    .as_ref()
                                    .map(|e| format!(" error: {e}"))
                                    .unwrap_or_default()
                            ));
                        }
                    }
                }
                s.push_str(&format!(
                    "{} rules, {} examples: {} passed, {} misses, {} false alarms\n",
                    rules.rules.len(),
                    outcomes.len(),
                    outcomes.iter().filter(|o| o.passed).count(),
                    misses.len(),
                    alarms.len()
                ));
                print(&s)?;
            }
            Ok(if misses.is_empty() && alarms.is_empty() {
                Code::Clean
            } else {
                Code::Findings
            })
        }
        RulesCmd::Patterns => {
            let s = crate::engine::scan::Scanner::new(&rules);
            print(&(s.patterns().join("\n") + "\n"))?;
            let slow: Vec<&str> = s.slow_patterns().collect();
            if !slow.is_empty() {
                eprintln!(
                    "meshdoc: {} pattern(s) have no required literal and are scanned byte by byte:",
                    slow.len()
                );
                slow.iter().for_each(|p| eprintln!("  {p}"));
            }
            Ok(Code::Clean)
        }
        RulesCmd::Schema | RulesCmd::Facts => unreachable!("handled above"),
    }
}
