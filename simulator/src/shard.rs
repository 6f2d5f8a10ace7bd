//! Shards of an exploration: which seeds shard K of N runs, its results as JSON lines, and merging the lines of every
//! shard back into one exploration.
//!
//! Shard K of N takes the K-th of N contiguous blocks of the seed range, so the lowest violating seed of the merge is
//! the lowest of the whole range (every seed below a shard's first finding ran in that shard, even with `--first`).

use std::collections::BTreeMap;
use std::ops::Range;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::explore::{Exploration, Finding};
use crate::scenario::model::InvariantId;
use crate::time::SimTime;

/// Problems with a shard specification or with results to merge.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ShardError {
    #[error("--shard {0:?}: expected K/N with 0 <= K < N (K counts from 0, as a Job's completion index)")]
    Spec(String),
    #[error("{file}:{line}: {problem}")]
    Line { file: String, line: usize, problem: String },
    #[error("{scenario}: shard {shard} of {shards} appears twice with different results (a nondeterministic run?)")]
    Conflict { scenario: String, shard: u64, shards: u64 },
    #[error("{scenario}: shards disagree on the exploration ({what})")]
    Mismatch { scenario: String, what: String },
    #[error("{scenario}: shard(s) {missing} of {shards} missing")]
    Missing { scenario: String, missing: String, shards: u64 },
    #[error("no results to merge")]
    Empty,
}

/// Shard `index` of `count` (`K/N` on the command line, K from 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(s: &str) -> Result<Shard, ShardError> {
        let bad = || ShardError::Spec(s.to_string());
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (u64, u64) = (k.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// The whole range as one shard.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// This shard's seeds of `start .. start + total`: the `index`-th of `count` contiguous blocks whose sizes differ
    /// by at most one.
    pub fn seeds(&self, start: u64, total: u64) -> Range<u64> {
        let at = |k: u64| start + ((total as u128 * k as u128) / self.count as u128) as u64;
        at(self.index)..at(self.index + 1)
    }
}

/// One violation of a finding, as written to the results.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViolationLine {
    pub invariant: String,
    /// Simulated time of the first violation, in milliseconds since the Unix epoch.
    pub at_ms: i64,
    pub message: String,
}

/// One scenario's exploration by one shard: one JSON line of the results.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardLine {
    /// The scenario's name in the summary (with `[controllers]` when `--controllers` was given).
    pub scenario: String,
    /// The scenario file as given to `sim explore` (none for the generated base world).
    pub path: Option<String>,
    /// sha256 of the file's text: a merge refuses to shrink against a file that changed since.
    pub digest: Option<String>,
    /// The controllers explored (`operator` or a zoo entry).
    pub controllers: String,
    /// `--generate` was given.
    pub generate: bool,
    pub shard: u64,
    pub shards: u64,
    /// The whole exploration's seeds: `start .. start + seeds`.
    pub start: u64,
    pub seeds: u64,
    /// Seeds this shard ran (fewer than its block with `--first` after a finding).
    pub ran: u64,
    pub simulated_ms: u64,
    /// Wall time of this shard's run (the only field that differs between two runs of a shard).
    pub wall_ms: u64,
    pub findings: Vec<FindingLine>,
}

/// A violating seed in the results.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindingLine {
    pub seed: u64,
    pub violations: Vec<ViolationLine>,
}

impl FindingLine {
    pub fn from_finding(f: &Finding) -> FindingLine {
        let violations = f
            .first
            .iter()
            .map(|(id, (t, m))| ViolationLine { invariant: id.as_str().to_string(), at_ms: t.0, message: m.clone() })
            .collect();
        FindingLine { seed: f.seed, violations }
    }

    fn to_finding(&self) -> Result<Finding, String> {
        let mut first = BTreeMap::new();
        for v in &self.violations {
            let id = InvariantId::parse(&v.invariant)
                .ok_or_else(|| format!("findings: seed {}: unknown invariant {:?}", self.seed, v.invariant))?;
            first.insert(id, (SimTime(v.at_ms), v.message.clone()));
        }
        if first.is_empty() {
            return Err(format!("findings: seed {}: no violation", self.seed));
        }
        Ok(Finding { seed: self.seed, first })
    }
}

impl ShardLine {
    /// The same result, whatever the machine's speed.
    fn same_result(&self, other: &ShardLine) -> bool {
        ShardLine { wall_ms: 0, ..self.clone() } == ShardLine { wall_ms: 0, ..other.clone() }
    }
}

/// Parses the JSON lines of one results file (blank lines and lines that are not JSON objects, such as a log's other
/// output, are skipped; a JSON object that is not a shard line is an error naming the line).
pub fn parse_lines(file: &str, text: &str) -> Result<Vec<ShardLine>, ShardError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if !line.starts_with('{') {
            continue;
        }
        let parsed: ShardLine = serde_json::from_str(line).map_err(|e| ShardError::Line {
            file: file.to_string(),
            line: i + 1,
            problem: e.to_string(),
        })?;
        if parsed.shards == 0 || parsed.shard >= parsed.shards {
            let problem = format!("shard: {} of {} is out of range", parsed.shard, parsed.shards);
            return Err(ShardError::Line { file: file.to_string(), line: i + 1, problem });
        }
        if let Some(bad) = parsed.findings.iter().find_map(|f| f.to_finding().err()) {
            return Err(ShardError::Line { file: file.to_string(), line: i + 1, problem: bad });
        }
        out.push(parsed);
    }
    Ok(out)
}

/// One scenario's merged exploration, with what identifies the scenario for shrinking.
#[derive(Clone, Debug)]
pub struct Merged {
    /// Any of the scenario's lines (they agree on everything but the shard's own fields).
    pub about: ShardLine,
    pub exploration: Exploration,
    /// Sum of the shards' wall times.
    pub wall: Duration,
}

/// Merges shard lines by scenario (in order of first appearance): checks that every shard of the same N ran the same
/// seeds of the same scenario, that each shard appears (twice only with the same result), and unites the findings.
pub fn merge(lines: Vec<ShardLine>) -> Result<Vec<Merged>, ShardError> {
    if lines.is_empty() {
        return Err(ShardError::Empty);
    }
    let mut order: Vec<String> = Vec::new();
    let mut by_scenario: BTreeMap<String, BTreeMap<u64, ShardLine>> = BTreeMap::new();
    for line in lines {
        if !by_scenario.contains_key(&line.scenario) {
            order.push(line.scenario.clone());
        }
        let shards = by_scenario.entry(line.scenario.clone()).or_default();
        if let Some(first) = shards.values().next() {
            check_same_exploration(first, &line)?;
        }
        match shards.get(&line.shard) {
            Some(seen) if !seen.same_result(&line) => {
                return Err(ShardError::Conflict { scenario: line.scenario, shard: line.shard, shards: line.shards });
            }
            Some(_) => {}
            None => {
                shards.insert(line.shard, line);
            }
        }
    }
    order.into_iter().map(|name| merge_one(name.clone(), by_scenario.remove(&name).unwrap_or_default())).collect()
}

fn check_same_exploration(a: &ShardLine, b: &ShardLine) -> Result<(), ShardError> {
    let differs = [
        ("shard count", a.shards != b.shards),
        ("seed range", (a.start, a.seeds) != (b.start, b.seeds)),
        ("scenario file", (&a.path, &a.digest) != (&b.path, &b.digest)),
        ("controllers", a.controllers != b.controllers),
        ("--generate", a.generate != b.generate),
    ];
    match differs.iter().find(|(_, d)| *d) {
        Some((what, _)) => Err(ShardError::Mismatch { scenario: a.scenario.clone(), what: what.to_string() }),
        None => Ok(()),
    }
}

fn merge_one(scenario: String, shards: BTreeMap<u64, ShardLine>) -> Result<Merged, ShardError> {
    let about = shards.values().next().cloned().ok_or(ShardError::Empty)?;
    let missing: Vec<String> = (0..about.shards).filter(|k| !shards.contains_key(k)).map(|k| k.to_string()).collect();
    if !missing.is_empty() {
        return Err(ShardError::Missing { scenario, missing: missing.join(", "), shards: about.shards });
    }
    let mut exploration = Exploration::default();
    let mut wall = Duration::ZERO;
    for line in shards.values() {
        exploration.seeds += line.ran;
        exploration.simulated += Duration::from_millis(line.simulated_ms);
        wall += Duration::from_millis(line.wall_ms);
        for f in &line.findings {
            let finding =
                f.to_finding().map_err(|problem| ShardError::Mismatch { scenario: scenario.clone(), what: problem })?;
            exploration.findings.push(finding);
        }
    }
    exploration.findings.sort_by_key(|f| f.seed);
    Ok(Merged { about, exploration, wall })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_shard_spec_counts_from_zero_and_refuses_what_is_out_of_range() {
        assert_eq!("3/8".parse::<Shard>(), Ok(Shard { index: 3, count: 8 }));
        for bad in ["8/8", "1/0", "x/2", "2", "-1/2", ""] {
            assert!(matches!(bad.parse::<Shard>(), Err(ShardError::Spec(_))), "{bad} is refused");
        }
    }

    proptest! {
        #[test]
        fn the_shards_of_a_range_cover_it_once_in_order(start in 0u64..1_000_000, total in 0u64..100_000, count in 1u64..300) {
            let mut next = start;
            for index in 0..count {
                let r = Shard { index, count }.seeds(start, total);
                prop_assert_eq!(r.start, next);
                prop_assert!(r.end - r.start <= total / count + 1);
                next = r.end;
            }
            prop_assert_eq!(next, start + total);
        }
    }

    fn line(shard: u64, seeds: &[u64]) -> ShardLine {
        ShardLine {
            scenario: "zoo/x".into(),
            path: Some("scenarios/zoo/x.yaml".into()),
            digest: Some("abc".into()),
            controllers: "operator".into(),
            generate: false,
            shard,
            shards: 3,
            start: 1,
            seeds: 30,
            ran: 10,
            simulated_ms: 1000,
            wall_ms: shard * 7,
            findings: seeds
                .iter()
                .map(|&seed| FindingLine {
                    seed,
                    violations: vec![ViolationLine { invariant: "no-overlap".into(), at_ms: 5, message: "two".into() }],
                })
                .collect(),
        }
    }

    #[test]
    fn merging_unites_the_findings_in_seed_order_and_sums_the_seeds() {
        let merged = merge(vec![line(2, &[25]), line(0, &[3, 9]), line(1, &[]), line(0, &[3, 9])]).unwrap();
        assert_eq!(merged.len(), 1);
        let e = &merged[0].exploration;
        assert_eq!(e.seeds, 30);
        assert_eq!(e.findings.iter().map(|f| f.seed).collect::<Vec<_>>(), vec![3, 9, 25]);
        assert_eq!(e.simulated, Duration::from_secs(3));
    }

    #[test]
    fn a_missing_shard_a_conflicting_repeat_or_another_seed_range_is_refused() {
        assert_eq!(merge(vec![line(0, &[]), line(2, &[])]).unwrap_err().to_string(), "zoo/x: shard(s) 1 of 3 missing");
        assert!(matches!(merge(vec![line(0, &[]), line(0, &[4])]), Err(ShardError::Conflict { .. })));
        let mut other = line(1, &[]);
        other.seeds = 60;
        assert!(matches!(merge(vec![line(0, &[]), other]), Err(ShardError::Mismatch { .. })));
        assert_eq!(merge(Vec::new()).unwrap_err(), ShardError::Empty);
    }

    #[test]
    fn a_results_line_that_is_not_a_shard_line_names_its_file_and_line() {
        let good = serde_json::to_string(&line(0, &[])).unwrap();
        let text = format!("log output\n{good}\n{{\"scenario\": 3}}\n");
        let err = parse_lines("shard-0.jsonl", &text).unwrap_err().to_string();
        assert!(err.starts_with("shard-0.jsonl:3: "), "{err}");
        let mut bad = line(0, &[4]);
        bad.findings[0].violations[0].invariant = "no-such".into();
        let err = parse_lines("r", &serde_json::to_string(&bad).unwrap()).unwrap_err().to_string();
        assert!(err.contains("unknown invariant \"no-such\""), "{err}");
        assert_eq!(parse_lines("r", &format!("\n{good}\n")).unwrap().len(), 1);
    }
}
