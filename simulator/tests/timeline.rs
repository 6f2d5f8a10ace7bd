//! The timeline page as a user sees it: the zoo's schedule-reset story shows its two overlapping Backups and the
//! violation at its time, its operator twin shows none, the same seed gives the same bytes, and both pages lay out
//! in headless Chromium with the violation marker over both overlapping bars; a compacting PITR schedule shows its
//! CompactBackups.

use simulator::run::{Report, RunOptions, run};
use simulator::scenario;
use std::path::{Path, PathBuf};
use std::process::Command;

const ZOO: &str = "scenarios/zoo/schedule-reset-stale-informer.yaml";
const TWIN: &str = "scenarios/schedule/reset-stale-informer.yaml";
const PITR: &str = "scenarios/migration/tidb-pitr-schedule-kept.yaml";

fn path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

fn page(rel: &str) -> (Report, String) {
    let s = scenario::load(&path(rel)).expect("scenario parses");
    let report = run(&s, RunOptions { seed: None, trace: None, timeline: true });
    let html = report.timeline.clone().expect("a timeline was asked for");
    (report, html)
}

/// The Backups a no-overlap violation names (`... at once: a, b`).
fn overlapping(message: &str) -> Vec<String> {
    let names = message.rsplit(": ").next().expect("the message lists the Backups");
    names.split(", ").map(|n| n.trim().to_string()).collect()
}

/// The value of `attr` in the first tag that contains `marker`.
fn attr_of(html: &str, marker: &str, attr: &str) -> Option<String> {
    let at = html.find(marker)?;
    let tag_start = html[..at].rfind('<')?;
    let tag = &html[tag_start..tag_start + html[tag_start..].find('>')?];
    let start = tag.find(&format!(" {attr}=\""))? + attr.len() + 3;
    Some(tag[start..start + tag[start..].find('"')?].to_string())
}

#[test]
fn the_zoo_page_shows_the_overlapping_backups_and_the_no_overlap_violation_at_its_time() {
    let (report, html) = page(ZOO);
    let v = report.violations.iter().find(|v| v.invariant.to_string() == "no-overlap").expect("the zoo overlaps");
    let names = overlapping(&v.message);
    assert_eq!(names.len(), 2, "{}", v.message);
    for n in &names {
        assert!(html.contains(&format!("data-check=\"backup\" data-name=\"test1/{n}\"")), "no bar for Backup {n}");
    }
    let t = attr_of(&html, "data-invariant=\"no-overlap\"", "data-t").expect("a no-overlap marker");
    let expected = {
        let s = scenario::load(&path(ZOO)).unwrap();
        let ms = v.time.0 - simulator::time::SimTime::from_utc(s.start).0;
        format!("{}.{}", ms / 1000, (ms % 1000) / 100)
    };
    assert_eq!(t.trim_end_matches(".0"), expected.trim_end_matches(".0"));
    assert_eq!(html.matches("data-check=\"violation\"").count(), report.violations.len());
    assert!(html.contains("<g class=\"v first\""), "the first violation is highlighted");
    assert!(html.contains("class=\"p p-ContainerCreating\""), "the stuck pods are drawn beneath their Backups");
    assert!(html.contains("podsStuck#1"), "the stuck-pods fault has its row");
}

#[test]
fn the_operator_twin_page_shows_no_violation() {
    let (report, html) = page(TWIN);
    assert!(report.passed && report.violations.is_empty());
    assert!(!html.contains("data-check=\"violation\""));
    assert!(html.contains("No invariant was violated."));
    assert!(html.contains("data-check=\"backup\""), "the twin's Backups are drawn");
}

#[test]
fn a_compacting_pitr_schedule_shows_its_compact_backups_under_it_with_their_pods() {
    let (report, html) = page(PITR);
    assert!(report.passed, "{:?}", report.violations);
    let section = html.find("schedule test1/pitr").expect("the schedule's section");
    let compact = html.find("data-check=\"compactbackup\"").expect("CompactBackups are drawn");
    assert!(compact > section, "drawn in the schedule's section");
    assert!(html.contains("compactbackup\" data-name=\"test1/compact-pitr-"), "named after the schedule");
    assert!(html.contains("compact pod"), "a compaction's pods are in its tooltip");
    assert!(html.contains("s-Complete"), "compactions finish");
    assert!(!html.contains("CompactBackups of no schedule"));
}

#[test]
fn the_same_seed_gives_the_same_page_byte_for_byte_and_no_network_is_needed() {
    let (_, a) = page(ZOO);
    let (_, b) = page(ZOO);
    assert!(a == b, "two runs of one seed drew different pages");
    for remote in ["http://", "https://", "src=\"", "@import"] {
        assert!(!a.contains(remote), "the page refers to something outside it: {remote}");
    }
}

/// Debian's Chromium (or `$CHROMIUM`); `SIM_TIMELINE_BROWSER=skip` skips the browser checks on a machine without one.
fn chromium() -> Option<String> {
    if std::env::var("SIM_TIMELINE_BROWSER").as_deref() == Ok("skip") {
        return None;
    }
    let candidates = std::env::var("CHROMIUM")
        .into_iter()
        .chain(["chromium", "chromium-browser", "google-chrome"].map(String::from));
    for c in candidates {
        if Command::new(&c).arg("--version").output().is_ok_and(|o| o.status.success()) {
            return Some(c);
        }
    }
    panic!(
        "no headless Chromium to render the timeline in: install Debian's chromium (`apt-get install chromium`, as \
         .ci/run does), point CHROMIUM at one, or set SIM_TIMELINE_BROWSER=skip"
    );
}

/// Runs Chromium headless on `url` with `args`; its virtual time makes the page's script finish without waiting on
/// the machine's load.
fn headless(browser: &str, profile: &Path, args: &[&str], url: &str) -> Vec<u8> {
    let out = Command::new(browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1600,1000"])
        .arg("--virtual-time-budget=5000")
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .output()
        .expect("chromium runs");
    assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// `left,right,top,bottom` of the element tagged by `marker`, as the page's `#measure` script recorded it.
fn box_of(dom: &str, marker: &str) -> [f64; 4] {
    let b = attr_of(dom, marker, "data-box").unwrap_or_else(|| panic!("no laid-out box for {marker}"));
    let v: Vec<f64> = b.split(',').map(|x| x.parse().expect("a number")).collect();
    [v[0], v[1], v[2], v[3]]
}

#[test]
fn both_pages_render_in_headless_chromium_with_the_violation_marker_over_both_overlapping_bars() {
    let Some(browser) = chromium() else { return };
    let dir = tempfile::tempdir().expect("a temporary folder");
    let (report, html) = page(ZOO);
    let file = dir.path().join("zoo.html");
    std::fs::write(&file, &html).unwrap();
    let url = format!("file://{}#measure", file.display());
    let dom =
        String::from_utf8(headless(&browser, &dir.path().join("profile"), &["--dump-dom"], &url)).expect("utf-8 DOM");
    let v = report.violations.iter().find(|v| v.invariant.to_string() == "no-overlap").unwrap();
    let marker = box_of(&dom, "data-invariant=\"no-overlap\"");
    // Where the browser put the violation, against where its time says it belongs on the plot.
    let plot = box_of(&dom, "data-check=\"plot\"");
    let seconds: f64 = attr_of(&dom, "data-check=\"plot\"", "data-duration").unwrap().parse().unwrap();
    let t: f64 = attr_of(&dom, "data-invariant=\"no-overlap\"", "data-t").unwrap().parse().unwrap();
    let expected = plot[0] + t / seconds * (plot[1] - plot[0]);
    assert!(
        (marker[0] - expected).abs() <= 2.0,
        "the violation is drawn at x={}, its time is at x={expected}",
        marker[0]
    );
    let bars: Vec<[f64; 4]> = overlapping(&v.message)
        .iter()
        .map(|n| box_of(&dom, &format!("data-check=\"backup\" data-name=\"test1/{n}\"")))
        .collect();
    for (bar, name) in bars.iter().zip(overlapping(&v.message)) {
        assert!(bar[1] - bar[0] > 5.0, "Backup {name} is drawn {bar:?}");
        assert!(
            bar[0] - 1.0 <= marker[0] && marker[0] <= bar[1] + 1.0,
            "the violation at x={} is not over Backup {name} ({}..{})",
            marker[0],
            bar[0],
            bar[1]
        );
        assert!(marker[2] <= bar[2] && bar[3] <= marker[3], "the violation's line does not cross Backup {name}");
    }
    assert!(bars[0][3] <= bars[1][2] || bars[1][3] <= bars[0][2], "the overlapping Backups share a row: {bars:?}");
    assert!(marker[0] > 0.0 && marker[0] < 1600.0, "the page does not open on the violation (x={})", marker[0]);

    let shot = dir.path().join("zoo.png");
    headless(
        &browser,
        &dir.path().join("profile"),
        &[&format!("--screenshot={}", shot.display())],
        &format!("file://{}", file.display()),
    );
    let png = std::fs::read(&shot).expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "the screenshot is empty");

    let (_, twin) = page(TWIN);
    let file = dir.path().join("twin.html");
    std::fs::write(&file, &twin).unwrap();
    let dom = String::from_utf8(headless(
        &browser,
        &dir.path().join("profile"),
        &["--dump-dom"],
        &format!("file://{}#measure", file.display()),
    ))
    .expect("utf-8 DOM");
    assert!(!dom.contains("data-check=\"violation\""));
    let bar = box_of(&dom, "data-check=\"backup\"");
    assert!(bar[1] > bar[0], "the twin's Backups are laid out");
}
