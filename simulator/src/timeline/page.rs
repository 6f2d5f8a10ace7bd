//! The timeline page: lanes of a run's history as inline SVG (time in seconds since the run's start on the x axis),
//! labels beside them, a legend and the verdict above, and a small script for zooming and the time axis.

use operator::api::cron::CronSchedule;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::history::{History, Life, LifeKind, Window, Writer};
use super::layout::pack;
use crate::time::SimTime;

/// What the page says about the run above the lanes.
pub struct Header<'a> {
    pub scenario: &'a str,
    pub seed: u64,
    pub start: SimTime,
    pub end: SimTime,
    /// `PASS` or `FAIL`, and why.
    pub verdict: &'a str,
    pub failures: &'a [String],
}

/// At most this many cron ticks are drawn per schedule (a seconds schedule over a month would be millions).
const MAX_TICKS: usize = 20_000;
/// At most this many violations are drawn and listed.
const MAX_VIOLATIONS: usize = 2_000;
const LISTED_VIOLATIONS: usize = 40;
const AXIS: u32 = 24;
const BACKUP_ROW: u32 = 22;
const THIN_ROW: u32 = 16;

/// Escapes text for HTML and SVG.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A CSS class suffix for a state (`ContainerCreating`, `Complete`): letters, digits and dashes only.
fn class(state: &str) -> String {
    state.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect()
}

/// The fault kind of a fault's trace name (`podsStuck#4` -> `podsStuck`).
fn fault_kind(name: &str) -> &str {
    name.split('#').next().unwrap_or(name)
}

/// Runs up to this long are drawn to a tenth of a second, longer ones to the second (the page stays small).
const FINE_UP_TO_MS: i64 = 2 * 86_400_000;

/// Maps times to the plot's x coordinate: seconds since the start (with one decimal in runs up to two days),
/// clamped to the run.
struct Scale {
    start: SimTime,
    end: SimTime,
}

impl Scale {
    fn fine(&self) -> bool {
        self.end.0 - self.start.0 <= FINE_UP_TO_MS
    }

    fn seconds(&self, ms: i64) -> String {
        let (s, d) = (ms / 1000, (ms % 1000) / 100);
        if d == 0 || !self.fine() { s.to_string() } else { format!("{s}.{d}") }
    }

    fn x(&self, t: SimTime) -> String {
        self.seconds(t.0.clamp(self.start.0, self.end.0) - self.start.0)
    }

    fn width(&self, from: SimTime, until: SimTime) -> String {
        let a = from.0.clamp(self.start.0, self.end.0);
        let b = until.0.clamp(self.start.0, self.end.0).max(a);
        let least = if self.fine() { 100 } else { 1000 };
        self.seconds(if b > a { (b - a).max(least) } else { 0 })
    }

    /// A time as tooltips show it: the clock, with the date in runs over two days.
    fn clock(&self, t: SimTime) -> String {
        let format = if self.fine() { "%H:%M:%S%.3f" } else { "%m-%d %H:%M:%S" };
        t.to_utc().format(format).to_string()
    }
}

/// The page being drawn: the label column, the plot and where the next row goes.
struct Canvas<'a> {
    scale: Scale,
    labels: String,
    plot: String,
    /// Shading drawn beneath everything (fault windows, downtime).
    under: String,
    /// Bars and ticks, one path per CSS class (`s s-Complete`), so a month of Backups stays a few MB.
    layers: std::collections::BTreeMap<String, String>,
    /// Invisible boxes over each Backup or Restore carrying its tooltip, above the bars.
    hits: String,
    /// Drawn above everything (violation lines).
    over: String,
    y: u32,
    /// The top of the violations row.
    violations_y: u32,
    header: &'a Header<'a>,
}

impl Canvas<'_> {
    fn label(&mut self, text: &str, title: &str, height: u32, class: &str) {
        let _ = write!(
            self.labels,
            r#"<text class="{class}" x="6" y="{}"><title>{}</title>{}</text>"#,
            self.y + height / 2 + 4,
            esc(title),
            esc(text)
        );
    }

    fn section(&mut self, text: &str) {
        self.y += 6;
        self.label(text, text, 14, "section");
        let _ = write!(
            self.plot,
            r#"<line class="sep" x1="0" x2="{}" y1="{}" y2="{}"/>"#,
            self.scale.x(self.scale.end),
            self.y,
            self.y
        );
        self.y += 14;
    }

    fn window_rects(&mut self, windows: &[Window], class: &str, y: u32, h: u32, shade: bool) {
        for w in windows {
            let until = w.until.unwrap_or(self.scale.end);
            let (x, width) = (self.scale.x(w.from), self.scale.width(w.from, until));
            let title = format!(
                "{} from {} until {}",
                w.what,
                w.from,
                w.until.map(|u| u.to_string()).unwrap_or_else(|| "the end".into())
            );
            let _ = write!(
                self.plot,
                r#"<rect class="{class}" x="{x}" width="{width}" y="{y}" height="{h}"><title>{}</title></rect>"#,
                esc(&title)
            );
            if shade {
                let _ = write!(
                    self.under,
                    r#"<rect class="shade {class}" x="{x}" width="{width}" y="LANES" height="REST"/>"#
                );
            }
        }
    }

    fn ticks(&mut self, times: impl Iterator<Item = SimTime>, class: &str, y: u32, h: u32) {
        let layer = self.layers.entry(class.to_string()).or_default();
        for t in times {
            let _ = write!(layer, "M{} {y}v{h}", self.scale.x(t));
        }
    }

    /// One life's bar, `h` pixels high around `y`: a stroke per state, from its start to the next state (or its end).
    fn bar(&mut self, life: &Life, y: u32, prefix: &str) {
        let end = life.gone.unwrap_or(self.scale.end);
        for (i, (from, state)) in life.states.iter().enumerate() {
            let until = life.states.get(i + 1).map(|(t, _)| *t).unwrap_or(end);
            let layer = self.layers.entry(format!("{prefix} {prefix}-{}", class(state))).or_default();
            let _ = write!(layer, "M{} {y}h{}", self.scale.x(*from), self.scale.width(*from, until));
        }
    }

    /// The box that carries a life's tooltip and the test's `data-check` name.
    fn hit(&mut self, life: &Life, y: u32, h: u32, title: &str) {
        let end = life.gone.unwrap_or(self.scale.end);
        let _ = write!(
            self.hits,
            r#"<rect class="hit" data-check="{}" data-name="{}" x="{}" width="{}" y="{y}" height="{h}"><title>{}</title></rect>"#,
            kind_name(life.kind).to_lowercase(),
            esc(&life.key),
            self.scale.x(life.created),
            self.scale.width(life.created, end),
            esc(title)
        );
    }

    /// `Backup ns/name`, then each state and when it began, and when it was gone.
    fn life_title(&self, life: &Life) -> String {
        let mut s = format!("{} {}\n", kind_name(life.kind), life.key);
        let states: Vec<String> = life.states.iter().map(|(t, st)| format!("{st} {}", self.scale.clock(*t))).collect();
        s.push_str(&states.join(" · "));
        match life.gone {
            Some(g) => {
                let _ = write!(s, " · gone {}", self.scale.clock(g));
            }
            None => s.push_str(" · still there at the end"),
        }
        s
    }
}

fn kind_name(kind: LifeKind) -> &'static str {
    match kind {
        LifeKind::Schedule => "BackupSchedule",
        LifeKind::Backup => "Backup",
        LifeKind::Restore => "Restore",
        LifeKind::Compact => "CompactBackup",
        LifeKind::Pod => "Pod",
    }
}

/// The cron ticks of a schedule while it was active, at most [`MAX_TICKS`].
fn cron_ticks(life: &Life, end: SimTime) -> Vec<SimTime> {
    let mut out = Vec::new();
    let stop = life.gone.unwrap_or(end);
    for (i, spec) in life.specs.iter().enumerate() {
        let until = life.specs.get(i + 1).map(|s| s.from).unwrap_or(stop);
        if spec.paused {
            continue;
        }
        let Ok(cron) = CronSchedule::parse(&spec.cron, spec.time_zone.as_deref()) else { continue };
        let cron = cron.from_origin(spec.created.to_utc());
        let mut t = spec.from.to_utc() - chrono::Duration::milliseconds(1);
        while out.len() < MAX_TICKS {
            match cron.tick_after(t) {
                Some(next) if SimTime::from_utc(next) < until => {
                    out.push(SimTime::from_utc(next));
                    t = next;
                }
                _ => break,
            }
        }
    }
    out
}

/// Pods by the uid of the Backup or Restore that owns them.
type PodsByOwner<'a> = BTreeMap<&'a str, Vec<&'a Life>>;

/// Draws a group of Backups or Restores, packed onto rows, each with its pods beneath and one tooltip for all.
fn group(c: &mut Canvas, lives: &[&Life], pods: &PodsByOwner) {
    let (rows, n) = rows_of(lives, c.scale.end);
    let top = c.y;
    c.label(&format!("{} {}(s)", lives.len(), kind_name(lives[0].kind)), "", BACKUP_ROW, "rows");
    for (life, row) in lives.iter().zip(&rows) {
        let y = top + *row as u32 * BACKUP_ROW;
        let mut title = c.life_title(life);
        c.bar(life, y + 8, "s");
        for writer in [Writer::Operator, Writer::Manager, Writer::User, Writer::Cluster] {
            let times = life.writes.iter().filter(|(_, w)| *w == writer).map(|(t, _)| *t);
            c.ticks(times, &format!("w w-{}", writer.as_str()), y, 3);
        }
        for pod in pods.get(life.uid.as_str()).into_iter().flatten() {
            c.bar(pod, y + 18, "p");
            let short = pod.key.rsplit('-').next().unwrap_or(&pod.key);
            let states: Vec<String> = pod.states.iter().map(|(t, st)| format!("{st} {}", c.scale.clock(*t))).collect();
            let _ = write!(title, "\n{} pod …{short}: {}", pod.role.as_deref().unwrap_or("a"), states.join(" · "));
        }
        c.hit(life, y, BACKUP_ROW - 1, &title);
    }
    c.y = top + n * BACKUP_ROW;
}

/// Each life's row (packed by its time alive) and how many rows there are.
fn rows_of(lives: &[&Life], end: SimTime) -> (Vec<usize>, u32) {
    let intervals: Vec<(i64, i64)> =
        lives.iter().map(|l| (l.created.0, l.gone.unwrap_or(end).0.max(l.created.0 + 1))).collect();
    let rows = pack(&intervals);
    let n = rows.iter().map(|r| r + 1).max().unwrap_or(0) as u32;
    (rows, n)
}

/// Pods with no known Backup or Restore, packed onto rows of their own.
fn loose_pods(c: &mut Canvas, pods: &[&Life]) {
    let (rows, n) = rows_of(pods, c.scale.end);
    let top = c.y;
    for (pod, row) in pods.iter().zip(&rows) {
        let y = top + *row as u32 * THIN_ROW;
        c.bar(pod, y + 8, "p");
        let title = c.life_title(pod);
        c.hit(pod, y, THIN_ROW - 1, &title);
    }
    c.label(&format!("{} pod(s)", pods.len()), "", THIN_ROW, "rows");
    c.y = top + n * THIN_ROW;
}

/// Renders the page.
pub fn render(h: &History, header: &Header) -> String {
    let mut c = Canvas {
        scale: Scale { start: header.start, end: header.end },
        labels: String::new(),
        plot: String::new(),
        layers: Default::default(),
        hits: String::new(),
        under: String::new(),
        over: String::new(),
        y: AXIS,
        violations_y: AXIS,
        header,
    };
    draw_top(&mut c, h);
    let lanes = c.y;
    draw_lives(&mut c, h);
    let total = c.y + 8;
    draw_violations(&mut c, h, total);
    let under = c.under.replace("y=\"LANES\"", &format!("y=\"{lanes}\"")).replace("REST", &(total - lanes).to_string());
    page(&c, h, &under, total)
}

/// Faults, the operator process, user steps and the violations row.
fn draw_top(c: &mut Canvas, h: &History) {
    let mut faults: Vec<(&String, &Vec<Window>)> = h.faults.iter().collect();
    faults.sort_by_key(|(name, w)| {
        (w.first().map(|w| w.from), name.split('#').nth(1).and_then(|i| i.parse::<u32>().ok()))
    });
    if !faults.is_empty() {
        c.section("faults");
    }
    for (name, windows) in faults {
        c.label(name, name, THIN_ROW, "fault");
        let kind = class(fault_kind(name));
        // Faults that hold a window shut (stuck pods, stalls, outages) shade the lanes more than rates do.
        let strong = matches!(fault_kind(name), "podsStuck" | "watchStall" | "operatorDown");
        let classes = format!("f f-{kind}{}", if strong { " strong" } else { "" });
        c.window_rects(windows, &classes, c.y + 3, 10, true);
        c.y += THIN_ROW;
    }
    c.section("operator");
    c.label("process", "down from a crash or outage until it starts again", THIN_ROW, "");
    let _ = write!(
        c.plot,
        r#"<rect class="up" x="0" width="{}" y="{}" height="4"/>"#,
        c.scale.width(c.scale.start, c.scale.end),
        c.y + 6
    );
    let downtime = h.downtime.clone();
    c.window_rects(&downtime, "down strong", c.y + 2, 12, true);
    let crashes: Vec<SimTime> = downtime.iter().map(|w| w.from).collect();
    c.ticks(crashes.into_iter(), "crash", c.y + 1, 14);
    c.y += THIN_ROW;
    if !h.steps.is_empty() {
        c.label("user", "what the scenario's user did", THIN_ROW, "");
        for s in &h.steps {
            let _ = write!(
                c.plot,
                r#"<line class="step" x1="{x}" x2="{x}" y1="{}" y2="{}"><title>{}</title></line>"#,
                c.y + 2,
                c.y + 14,
                esc(&format!("{} user {} {}", s.at, s.what, s.detail)),
                x = c.scale.x(s.at)
            );
        }
        c.y += THIN_ROW;
    }
    c.label("violations", "each invariant violation; the first is red", THIN_ROW, "");
    c.violations_y = c.y;
    c.y += THIN_ROW;
}

/// Schedules with their Backups and CompactBackups, then those of no schedule, Restores and pods of no known owner.
fn draw_lives(c: &mut Canvas, h: &History) {
    let owners: std::collections::BTreeSet<&str> = h
        .lives
        .iter()
        .filter(|l| matches!(l.kind, LifeKind::Backup | LifeKind::Restore | LifeKind::Compact))
        .map(|l| l.uid.as_str())
        .collect();
    let mut pods = PodsByOwner::new();
    let mut other = Vec::new();
    for p in h.lives.iter().filter(|l| l.kind == LifeKind::Pod) {
        match p.owner.as_deref().filter(|o| owners.contains(o)) {
            Some(o) => pods.entry(o).or_default().push(p),
            None => other.push(p),
        }
    }
    let mut schedules: Vec<&Life> = h.lives.iter().filter(|l| l.kind == LifeKind::Schedule).collect();
    schedules.sort_by(|a, b| (&a.key, a.created).cmp(&(&b.key, b.created)));
    let backups: Vec<&Life> = h.lives.iter().filter(|l| l.kind == LifeKind::Backup).collect();
    let compacts: Vec<&Life> = h.lives.iter().filter(|l| l.kind == LifeKind::Compact).collect();
    for s in &schedules {
        c.section(&format!("schedule {}", s.key));
        let ticks = cron_ticks(s, c.scale.end);
        let title = format!("{}\n{} cron ticks drawn", c.life_title(s), ticks.len());
        c.label("ticks · writes", &title, THIN_ROW, "");
        let y = c.y;
        c.bar(s, y + 13, "sch");
        c.ticks(ticks.into_iter(), "tick", y + 1, 7);
        for writer in [Writer::Operator, Writer::User] {
            let times = s.writes.iter().filter(|(_, w)| *w == writer).map(|(t, _)| *t);
            c.ticks(times, &format!("w w-{}", writer.as_str()), y + 8, 4);
        }
        c.hit(s, y, THIN_ROW - 1, &title);
        c.y += THIN_ROW;
        for lives in [&backups, &compacts] {
            let mine: Vec<&Life> =
                lives.iter().copied().filter(|b| b.owner.as_deref() == Some(s.key.as_str())).collect();
            if !mine.is_empty() {
                group(c, &mine, &pods);
            }
        }
    }
    let keys: std::collections::BTreeSet<&str> = schedules.iter().map(|s| s.key.as_str()).collect();
    let lone: Vec<&Life> =
        backups.iter().copied().filter(|b| !b.owner.as_deref().is_some_and(|o| keys.contains(o))).collect();
    if !lone.is_empty() {
        c.section("Backups of no schedule");
        group(c, &lone, &pods);
    }
    let lone: Vec<&Life> =
        compacts.iter().copied().filter(|b| !b.owner.as_deref().is_some_and(|o| keys.contains(o))).collect();
    if !lone.is_empty() {
        c.section("CompactBackups of no schedule");
        group(c, &lone, &pods);
    }
    let restores: Vec<&Life> = h.lives.iter().filter(|l| l.kind == LifeKind::Restore).collect();
    if !restores.is_empty() {
        c.section("Restores");
        group(c, &restores, &pods);
    }
    if !other.is_empty() {
        c.section("pods of no Backup, Restore or CompactBackup");
        loose_pods(c, &other);
    }
}

/// Each violation: a marker in the violations row and a line across the lanes; the first one highlighted.
fn draw_violations(c: &mut Canvas, h: &History, total: u32) {
    let y_row = c.violations_y;
    for (i, v) in h.violations.iter().take(MAX_VIOLATIONS).enumerate() {
        let first = if i == 0 { " first" } else { "" };
        let x = c.scale.x(v.at);
        let _ = write!(
            c.over,
            r#"<g class="v{first}" data-check="violation" data-invariant="{}" data-t="{x}"><title>{}</title><line class="vline" x1="{x}" x2="{x}" y1="{}" y2="{total}"/><line class="vmark" x1="{x}" x2="{x}" y1="{}" y2="{}"/></g>"#,
            esc(&v.what),
            esc(&format!("{} {}: {}", v.at, v.what, v.detail)),
            y_row + 8,
            y_row + 2,
            y_row + 14,
        );
    }
}

/// The whole HTML document.
fn page(c: &Canvas, h: &History, under: &str, total: u32) -> String {
    let header = c.header;
    let duration = c.scale.x(header.end);
    let first = h.violations.first().map(|v| c.scale.x(v.at)).unwrap_or_default();
    let mut out = String::with_capacity(c.plot.len() + c.labels.len() + 16_384);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} seed {}</title><style>{}</style></head><body>",
        esc(header.scenario),
        header.seed,
        include_str!("page.css")
    );
    let _ = write!(
        out,
        r#"<header><h1>{} <small>seed {}</small></h1><p class="verdict {}">{}</p>"#,
        esc(header.scenario),
        header.seed,
        if header.verdict.starts_with("PASS") { "pass" } else { "fail" },
        esc(header.verdict)
    );
    for f in header.failures {
        let _ = write!(out, "<p class=\"failure\">{}</p>", esc(f));
    }
    let _ = write!(out, "<p>{} to {} · {} violation(s)</p>", header.start, header.end, h.violations.len());
    violation_list(&mut out, c, h);
    out.push_str(include_str!("legend.html"));
    out.push_str(r#"<nav><button id="first">around the first violation</button><button id="whole">whole run</button><button id="in">zoom in</button><button id="out">zoom out</button></nav></header>"#);
    let _ = write!(
        out,
        r#"<main><svg class="labels" width="250" height="{total}">{}</svg><div id="scroll"><div id="canvas"><div id="axis"></div><svg id="plot" data-check="plot" viewBox="0 0 {duration} {total}" preserveAspectRatio="none" height="{total}" data-duration="{duration}" data-start="{}" data-first="{first}">{under}{}{}{}{}</svg></div></div></main>"#,
        c.labels,
        header.start.0,
        c.plot,
        layers(c),
        c.hits,
        c.over
    );
    let _ = writeln!(out, "<script>{}</script></body></html>", include_str!("page.js"));
    out
}

/// Each layer as one path.
fn layers(c: &Canvas) -> String {
    let mut out = String::new();
    for (class, d) in &c.layers {
        let _ = write!(out, r#"<path class="{class}" d="{d}"/>"#);
    }
    out
}

fn violation_list(out: &mut String, c: &Canvas, h: &History) {
    if h.violations.is_empty() {
        out.push_str("<p class=\"none\">No invariant was violated.</p>");
        return;
    }
    out.push_str("<ol class=\"violations\">");
    for v in h.violations.iter().take(LISTED_VIOLATIONS) {
        let _ = write!(
            out,
            r##"<li><a href="#" data-goto="{}">{}</a> <b>{}</b> {}</li>"##,
            c.scale.x(v.at),
            v.at,
            esc(&v.what),
            esc(&v.detail)
        );
    }
    out.push_str("</ol>");
    if h.violations.len() > LISTED_VIOLATIONS {
        let _ = write!(out, "<p>and {} more (see the trace)</p>", h.violations.len() - LISTED_VIOLATIONS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_become_seconds_since_the_start_with_one_decimal_clamped_to_the_run() {
        let s = Scale { start: SimTime(1_000_000), end: SimTime(1_000_000 + 3_600_000) };
        assert_eq!(s.x(SimTime(1_000_000 + 12_345)), "12.3");
        assert_eq!(s.x(SimTime(1_000_000 + 12_000)), "12");
        assert_eq!(s.x(SimTime(0)), "0");
        assert_eq!(s.x(SimTime(i64::MAX)), "3600");
        assert_eq!(s.width(SimTime(1_000_000), SimTime(1_000_050)), "0.1");
    }

    #[test]
    fn text_is_escaped_and_classes_hold_no_markup() {
        assert_eq!(esc("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
        assert_eq!(class("Crash Loop<x>"), "Crash_Loop_x_");
    }
}
