//! Pure reading of br, dumpling and lightning output: TiDB's log line format, progress, the final summary, and the
//! last meaningful lines of a failure. No I/O; every line passes through the [`Redactor`] first.

use std::collections::VecDeque;
use std::time::Duration;

use super::redact::Redactor;
use super::tool::{LogTask, ToolKind, ToolProgress, ToolReport};

/// How many meaningful lines a failure keeps, and how long its message may get.
const TAIL_LINES: usize = 3;
const TAIL_CHARS: usize = 1000;
/// Lines kept while the tool runs (the failure message picks from these).
const KEPT_LINES: usize = 40;

/// One line in TiDB's unified log format:
/// `[2026/01/01 00:00:00.000 +00:00] [INFO] [progress.go:158] [progress] [step="Full Backup"] [progress=45.00%]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    pub level: String,
    pub message: String,
    pub fields: Vec<(String, String)>,
}

impl LogLine {
    /// The value of field `key`.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// Splits `[a] [b="x y"] ["c d"=e]` into the bracket contents, honouring quotes; `None` if it is not that shape.
fn brackets(line: &str) -> Option<Vec<String>> {
    let mut groups = Vec::new();
    let mut chars = line.trim().chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => continue,
            '[' => {}
            _ => return None,
        }
        let mut group = String::new();
        let mut quoted = false;
        loop {
            let c = chars.next()?;
            match c {
                '\\' if quoted => {
                    group.push(c);
                    group.push(chars.next()?);
                }
                '"' => {
                    quoted = !quoted;
                    group.push(c);
                }
                ']' if !quoted => break,
                _ => group.push(c),
            }
        }
        groups.push(group);
    }
    (groups.len() >= 3).then_some(groups)
}

/// `"a \"b\""` -> `a "b"`; unquoted text is returned as it is.
fn unquote(s: &str) -> String {
    let Some(inner) = s.strip_prefix('"').and_then(|s| s.strip_suffix('"')) else {
        return s.to_string();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push(' '),
                Some('t') => out.push(' '),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Splits `key=value` at the first `=` outside quotes.
fn split_field(group: &str) -> Option<(String, String)> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in group.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            '=' if !quoted => return Some((unquote(&group[..i]), unquote(&group[i + 1..]))),
            _ => {}
        }
    }
    None
}

/// Parses one line of TiDB's log format (time, level, source, message, fields); `None` for anything else.
pub fn parse_log_line(line: &str) -> Option<LogLine> {
    let groups = brackets(line)?;
    let level = groups[1].trim().to_ascii_uppercase();
    if !matches!(level.as_str(), "DEBUG" | "INFO" | "WARN" | "WARNING" | "ERROR" | "FATAL" | "PANIC" | "DPANIC") {
        return None;
    }
    let mut rest = groups[3..].iter();
    let mut message = String::new();
    let mut fields = Vec::new();
    if let Some(first) = groups.get(3) {
        match split_field(first) {
            Some(kv) => fields.push(kv),
            None => message = unquote(first),
        }
        rest.next();
    }
    fields.extend(rest.filter_map(|g| split_field(g)));
    Some(LogLine { level, message, fields })
}

/// Parses a Go duration (`4.715509333s`, `1m2.5s`, `2h3m`, `350ms`).
pub fn parse_go_duration(text: &str) -> Option<Duration> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total = 0.0f64;
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let number: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" | "μs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        total += number * seconds;
        rest = &rest[unit_len..];
    }
    Some(Duration::from_secs_f64(total))
}

/// Parses a size as the tools print it: `71010`, `250kB`, `161.07MB`, `1.5GiB`.
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let number: f64 = text[..split].parse().ok()?;
    let factor: f64 = match text[split..].trim() {
        "" | "B" => 1.0,
        "kB" | "KB" | "K" => 1e3,
        "MB" | "M" => 1e6,
        "GB" | "G" => 1e9,
        "TB" | "T" => 1e12,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        "TiB" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some((number * factor).round() as u64)
}

/// `45.00%` -> 45.0
fn percent(text: &str) -> Option<f64> {
    text.trim().strip_suffix('%')?.trim().parse().ok()
}

/// The progress a line reports: br's `[step=..] [progress=45.00%]`, lightning's `[total=50.0%]`, dumpling's
/// `[tables="5/10 (50.0%)"]`.
pub fn progress_of(line: &LogLine, tool: ToolKind) -> Option<ToolProgress> {
    if !line.message.eq_ignore_ascii_case("progress") {
        return None;
    }
    if let (Some(step), Some(p)) = (line.field("step"), line.field("progress").and_then(percent)) {
        return Some(ToolProgress { step: step.to_string(), percent: p });
    }
    if let Some(p) = line.field("total").and_then(percent) {
        return Some(ToolProgress { step: "Import".into(), percent: p });
    }
    if let Some(tables) = line.field("tables") {
        let inner = tables.split_once('(')?.1.split_once(')')?.0;
        let step = if tool == ToolKind::Lightning { "Import" } else { "Export" };
        return Some(ToolProgress { step: step.into(), percent: percent(inner)? });
    }
    None
}

/// How much a line says about a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Weight {
    /// Progress and informational lines: never part of a failure message.
    Noise,
    /// Warnings and plain text: used when nothing better is there.
    Weak,
    /// Errors: `[ERROR]` lines, `Error: ...`, `dump failed: ...`.
    Error,
}

fn looks_like_error(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.starts_with("error") || lower.contains("failed") || lower.contains("panic") || lower.contains(" error")
}

/// A line rendered for a failure message, and its weight.
fn judge(raw: &str, parsed: Option<&LogLine>) -> (Weight, String) {
    match parsed {
        Some(l) => {
            let weight = match l.level.as_str() {
                "ERROR" | "FATAL" | "PANIC" | "DPANIC" => Weight::Error,
                "WARN" | "WARNING" => Weight::Weak,
                _ => Weight::Noise,
            };
            let detail = l.field("error").or_else(|| l.field("err")).or_else(|| l.field("errors"));
            let text = match (l.message.is_empty(), detail) {
                (false, Some(d)) => format!("{}: {d}", l.message),
                (true, Some(d)) => d.to_string(),
                (false, None) => l.message.clone(),
                (true, None) => raw.trim().to_string(),
            };
            (weight, text)
        }
        None => {
            let text = raw.trim();
            let weight = if text.is_empty() {
                Weight::Noise
            } else if looks_like_error(text) {
                Weight::Error
            } else {
                Weight::Weak
            };
            (weight, text.to_string())
        }
    }
}

/// Cuts `text` to at most `max` characters (on a character boundary), marking the cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// What one line of output meant.
#[derive(Clone, Debug, PartialEq)]
pub struct Seen {
    /// The line with secrets masked, fit for logs.
    pub display: String,
    pub progress: Option<ToolProgress>,
}

/// Everything read from one run's output so far.
#[derive(Clone, Debug)]
pub struct Transcript {
    tool: ToolKind,
    redactor: Redactor,
    report: ToolReport,
    kept: VecDeque<(Weight, String)>,
    lines: u64,
}

impl Transcript {
    pub fn new(tool: ToolKind, redactor: Redactor) -> Self {
        Transcript { tool, redactor, report: ToolReport::default(), kept: VecDeque::new(), lines: 0 }
    }

    /// Reads one line (stdout or stderr, without its newline).
    pub fn push(&mut self, raw: &str) -> Seen {
        self.lines += 1;
        let display = self.redactor.redact(raw.trim_end_matches(['\r', '\n']));
        if raw.trim_start().starts_with('[')
            && let Ok(tasks) = serde_json::from_str::<Vec<LogTask>>(raw.trim())
        {
            self.report.log_tasks = Some(tasks);
        }
        let parsed = parse_log_line(&display);
        let bare = raw.trim();
        if parsed.is_none() && !bare.is_empty() && !bare.starts_with(['{', '[']) {
            self.report.printed = Some(bare.to_string());
        }
        let progress = parsed.as_ref().and_then(|l| progress_of(l, self.tool));
        if let Some(l) = &parsed {
            self.read_summary(l);
        }
        let (weight, text) = judge(&display, parsed.as_ref());
        if weight > Weight::Noise {
            if self.kept.back().map(|(_, t)| t) != Some(&text) {
                self.kept.push_back((weight, text));
            }
            if self.kept.len() > KEPT_LINES {
                self.kept.pop_front();
            }
        }
        Seen { display, progress }
    }

    fn read_summary(&mut self, l: &LogLine) {
        let msg = l.message.to_ascii_lowercase();
        let summary = msg.contains("success summary") || msg == "the whole procedure completed";
        if !summary {
            return;
        }
        let r = &mut self.report;
        if let Some(size) = l.field("Size").or_else(|| l.field("size")).and_then(parse_size) {
            r.size_bytes = Some(size);
        } else if let Some(size) = l.field("total-kv-size").and_then(parse_size) {
            r.size_bytes = Some(size);
        }
        if let Some(ts) = l.field("BackupTS").filter(|t| t.chars().all(|c| c.is_ascii_digit()) && !t.is_empty()) {
            r.commit_ts = Some(ts.to_string());
        }
        if let Some(d) = l.field("total-take").or_else(|| l.field("takeTime")).and_then(parse_go_duration) {
            r.time_taken = Some(d);
        }
    }

    /// The summary of a successful run.
    pub fn report(&self) -> ToolReport {
        self.report.clone()
    }

    /// How many lines were read.
    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// The last meaningful lines, for a failure's message: errors if there are any, else warnings and plain text.
    pub fn failure_tail(&self) -> String {
        let best = self.kept.iter().map(|(w, _)| *w).max();
        let Some(best) = best else {
            return "(the tool printed nothing that explains the failure)".into();
        };
        let picked: Vec<&str> = self.kept.iter().filter(|(w, _)| *w == best).map(|(_, t)| t.as_str()).collect();
        let tail = picked[picked.len().saturating_sub(TAIL_LINES)..].join("; ");
        truncate(&tail, TAIL_CHARS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tidb_log_lines_split_into_level_message_and_fields() {
        let l = parse_log_line(
            r#"[2026/01/01 00:00:00.000 +00:00] [INFO] [progress.go:158] [progress] [step="Full Backup"] [progress=45.00%] ["finished rows"=12]"#,
        )
        .unwrap();
        assert_eq!(l.level, "INFO");
        assert_eq!(l.message, "progress");
        assert_eq!(l.field("step"), Some("Full Backup"));
        assert_eq!(l.field("finished rows"), Some("12"));
        assert_eq!(parse_log_line("Error: something broke"), None);
        assert_eq!(parse_log_line("[not] [a] [log]"), None);
    }

    #[test]
    fn quoted_messages_and_values_keep_brackets_and_escapes() {
        let l =
            parse_log_line(r#"[t] [ERROR] [backup.go:1] ["failed to backup"] [error="rpc [code=1] \"x\""]"#).unwrap();
        assert_eq!(l.message, "failed to backup");
        assert_eq!(l.field("error"), Some(r#"rpc [code=1] "x""#));
    }

    #[test]
    fn go_durations_and_sizes_parse() {
        assert_eq!(parse_go_duration("4.5s"), Some(Duration::from_millis(4500)));
        assert_eq!(parse_go_duration("1h2m3s"), Some(Duration::from_secs(3723)));
        assert_eq!(parse_go_duration("350ms"), Some(Duration::from_millis(350)));
        assert_eq!(parse_go_duration("soon"), None);
        assert_eq!(parse_size("71010"), Some(71010));
        assert_eq!(parse_size("161.07MB"), Some(161_070_000));
        assert_eq!(parse_size("1.5GiB"), Some(1_610_612_736));
        assert_eq!(parse_size("lots"), None);
    }

    #[test]
    fn progress_is_read_from_each_tools_own_fields() {
        let br = parse_log_line(r#"[t] [INFO] [p.go:1] [progress] [step="Full Backup"] [progress=45.00%]"#).unwrap();
        assert_eq!(progress_of(&br, ToolKind::Br), Some(ToolProgress { step: "Full Backup".into(), percent: 45.0 }));
        let dumpling = parse_log_line(r#"[t] [INFO] [s.go:1] [progress] [tables="5/10 (50.0%)"]"#).unwrap();
        assert_eq!(progress_of(&dumpling, ToolKind::Dumpling).unwrap().percent, 50.0);
        let lightning = parse_log_line(r#"[t] [INFO] [l.go:1] [progress] [total=12.5%] [state=writing]"#).unwrap();
        assert_eq!(progress_of(&lightning, ToolKind::Lightning).unwrap().step, "Import");
    }

    #[test]
    fn a_failure_keeps_the_last_error_lines_not_the_noise() {
        let mut t = Transcript::new(ToolKind::Br, Redactor::new(["pw".to_string()]));
        t.push(r#"[t] [INFO] [p.go:1] [progress] [step="Full Backup"] [progress=10.00%]"#);
        t.push(r#"[t] [WARN] [x.go:1] ["slow region"]"#);
        t.push(r#"[t] [ERROR] [backup.go:1] ["failed to backup"] [error="connect to pd: password pw rejected"]"#);
        t.push("Error: run backup failed");
        let tail = t.failure_tail();
        assert_eq!(tail, "failed to backup: connect to pd: password ****** rejected; Error: run backup failed");
    }

    #[test]
    fn a_failure_without_errors_falls_back_to_warnings_and_plain_text() {
        let mut t = Transcript::new(ToolKind::Dumpling, Redactor::default());
        assert!(t.failure_tail().contains("printed nothing"));
        t.push(r#"[t] [WARN] [x.go:1] ["disk almost full"]"#);
        assert_eq!(t.failure_tail(), "disk almost full");
    }

    #[test]
    fn long_failures_are_cut_on_a_character_boundary() {
        let long = "é".repeat(3000);
        let cut = truncate(&long, TAIL_CHARS);
        assert_eq!(cut.chars().count(), TAIL_CHARS);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn br_log_status_json_gives_the_tasks() {
        let mut t = Transcript::new(ToolKind::Br, Redactor::default());
        t.push("[t] [INFO] [info.go:49] [\"Welcome to Backup & Restore (BR)\"]");
        t.push(r#"[{"name":"log","start_ts":445790385398841347,"end_ts":999999999999999999,"status":"NORMAL","table_filter":["*.*"],"progress":[],"storage":"s3://b/log","checkpoint":445790385661001728,"estimate_qps":0,"last_errors":[]}]"#);
        let tasks = t.report().log_tasks.unwrap();
        assert_eq!(tasks.len(), 1);
        assert_eq!((tasks[0].name.as_str(), tasks[0].status.as_str()), ("log", "NORMAL"));
        assert_eq!((tasks[0].start_ts, tasks[0].checkpoint), (445790385398841347, 445790385661001728));
    }

    #[test]
    fn br_summaries_give_size_commit_ts_and_time_taken() {
        let mut t = Transcript::new(ToolKind::Br, Redactor::default());
        t.push(r#"[t] [INFO] [collector.go:77] ["Full Backup success summary"] [total-ranges=20] [ranges-failed=0] [total-take=4.5s] [BackupTS=445790385398841347] [total-kv-size=250kB] [Size=71010]"#);
        assert_eq!(
            t.report(),
            ToolReport {
                size_bytes: Some(71010),
                commit_ts: Some("445790385398841347".into()),
                time_taken: Some(Duration::from_millis(4500)),
                log_tasks: None,
                printed: None,
            }
        );
    }

    #[test]
    fn a_bare_line_is_kept_as_what_the_tool_printed() {
        let mut t = Transcript::new(ToolKind::Br, Redactor::default());
        t.push("[2026/01/01 00:00:00.000 +00:00] [INFO] [main.go:1] [\"Welcome to Backup & Restore (BR)\"]");
        t.push("EhQKBmJ1Y2tldBIIcHJlZml4");
        t.push("");
        assert_eq!(t.report().printed.as_deref(), Some("EhQKBmJ1Y2tldBIIcHJlZml4"));
    }
}
