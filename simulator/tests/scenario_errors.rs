//! Scenario files with mistakes get `file:line:col: field: problem`, never a panic; `sim check` exits 2 on them.

use simulator::scenario::parse;

const GOOD: &str = r#"
name: demo
duration: 1h
objects:
  - apiVersion: pingcap.com/v1alpha1
    kind: BackupSchedule
    metadata: {name: demo, namespace: test1}
    spec:
      schedule: "*/10 * * * *"
      backupTemplate: {br: {cluster: c}, s3: {provider: aws, bucket: b}}
expect:
  holds: [all]
"#;

/// The errors of `text` as `file:line:col: field: problem` lines.
fn errors(text: &str) -> Vec<String> {
    match parse(text, "bad.yaml") {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn the_good_scenario_parses() {
    assert!(parse(GOOD, "good.yaml").is_ok());
}

#[test]
fn unknown_keys_are_reported_with_their_line() {
    let e = errors(&GOOD.replace("duration: 1h", "duration: 1h\nseeed: 3"));
    assert_eq!(e.len(), 1);
    assert!(e[0].starts_with("bad.yaml:4:"), "{e:?}");
    assert!(e[0].contains("seeed"), "{e:?}");
}

#[test]
fn bad_durations_and_ranges_name_the_field_and_line() {
    let e = errors(&GOOD.replace("duration: 1h", "duration: soon\ntiming: {backup: 9m..2m}"));
    assert!(e.iter().any(|l| l.starts_with("bad.yaml:3:11: duration: cannot parse duration \"soon\"")), "{e:?}");
    assert!(
        e.iter().any(|l| l.starts_with("bad.yaml:4:")
            && l.contains("timing.backup: range \"9m..2m\" has its lower bound above its upper bound")),
        "{e:?}"
    );
}

#[test]
fn unknown_fault_kinds_list_the_known_ones() {
    let e = errors(&GOOD.replace("expect:", "faults:\n  - diskFull: {rate: 1}\nexpect:"));
    assert!(e[0].starts_with("bad.yaml:12:"), "{e:?}");
    assert!(e[0].contains("diskFull") && e[0].contains("informerLag"), "{e:?}");
}

#[test]
fn fault_fields_are_validated_with_their_path() {
    let e = errors(&GOOD.replace(
        "expect:",
        "faults:\n  - podsStuck: {jobs: [backpu], until: 2h}\n  - apiErrors: {rate: 1.5, verbs: [patch]}\n  - informerLag: {controller: nobody, delay: 1s}\nexpect:",
    ));
    assert!(e.iter().any(|l| l.contains("faults[0].podsStuck.jobs: unknown Job role \"backpu\"")), "{e:?}");
    assert!(e.iter().any(|l| l.contains("faults[1].apiErrors.verbs[0]: unknown verb \"patch\"")), "{e:?}");
    assert!(e.iter().any(|l| l.contains("faults[1].apiErrors.rate: rate 1.5 is not a probability")), "{e:?}");
    assert!(e.iter().any(|l| l.contains("faults[2].informerLag.controller: unknown controller \"nobody\"")), "{e:?}");
}

#[test]
fn unknown_invariants_and_controllers_are_rejected() {
    let e = errors(
        &GOOD
            .replace("holds: [all]", "holds: [no-overlap, no-lateness]")
            .replace("duration: 1h", "duration: 1h\ncontrollers: tidb-v2"),
    );
    assert!(e.iter().any(|l| l.contains("expect.holds[1]: unknown invariant \"no-lateness\"")), "{e:?}");
    assert!(e.iter().any(|l| l.starts_with("bad.yaml:4:14: controllers: unknown controllers \"tidb-v2\"")), "{e:?}");
}

#[test]
fn manifests_that_are_not_valid_objects_name_the_field_path() {
    let e = errors(&GOOD.replace("schedule: \"*/10 * * * *\"", "schedule: \"*/10 * * * *\"\n      maxBackups: lots"));
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0], "bad.yaml:10:19: objects[0].spec.maxBackups: must be of type integer, got string \"lots\"");
    let e = errors(&GOOD.replace("kind: BackupSchedule", "kind: CronJob"));
    assert!(e[0].contains("objects[0].kind: \"CronJob\" is not one of Backup, Restore, BackupSchedule"), "{e:?}");
}

#[test]
fn broken_yaml_gets_a_position_not_a_panic() {
    let e = errors("name: demo\nduration: [1h\nexpect: {holds: [all]}\n");
    assert_eq!(e.len(), 1);
    assert!(e[0].starts_with("bad.yaml:"), "{e:?}");
    let e = errors("");
    assert!(e[0].starts_with("bad.yaml:"), "{e:?}");
}

#[test]
fn steps_need_exactly_one_action() {
    let e = errors(&GOOD.replace("expect:", "steps:\n  - at: 10m\nexpect:"));
    assert!(e[0].contains("steps[0]: needs exactly one of patch, create, delete, wipeData"), "{e:?}");
}

#[test]
fn the_checked_in_schema_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/scenario.schema.json");
    let on_disk = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        on_disk == simulator::scenario::json_schema(),
        "scenarios/scenario.schema.json drifted: run `cargo run -p simulator --bin sim -- schema > scenarios/scenario.schema.json`"
    );
}

#[test]
fn sim_check_exits_2_on_a_malformed_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(&file, GOOD.replace("duration: 1h", "duration: -1h")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sim")).arg("check").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.yaml:3:11: duration: negative duration \"-1h\" is not allowed"), "{stderr}");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_sim")).arg("run").arg(&file).output().unwrap();
    assert_eq!(run.status.code(), Some(2));
}

/// Regression (round-2 schedule issue, item 4): a typo inside an object passed `sim check` and was ignored by
/// `sim run`. Objects and patches are checked against the CRD schemas, each problem at its own line.
#[test]
fn unknown_and_mistyped_fields_inside_objects_and_patches_are_refused() {
    let text = GOOD
        .replace("schedule: \"*/10 * * * *\"", "schedule: \"*/10 * * * *\"\n      maxReservedTme: 1h\n      maxBackups: three")
        .replace(
            "expect:",
            "steps:\n  - at: 10m\n    patch: {kind: BackupSchedule, name: demo, namespace: test1, spec: {pasue: true}}\nexpect:",
        );
    let e = errors(&text);
    assert_eq!(e.len(), 3, "{e:?}");
    assert!(
        e[0].starts_with("bad.yaml:11:")
            && e[0].ends_with("objects[0].spec.maxBackups: must be of type integer, got string \"three\""),
        "{e:?}"
    );
    assert!(
        e[1].starts_with("bad.yaml:10:") && e[1].ends_with("objects[0].spec.maxReservedTme: unknown field"),
        "{e:?}"
    );
    assert!(e[2].starts_with("bad.yaml:15:") && e[2].ends_with("steps[0].patch.spec.pasue: unknown field"), "{e:?}");
}

/// Regression (noted in round 2): `sim run scenarios/ | head -1` panicked on the next print once `head` had gone.
#[test]
fn sim_run_into_a_closed_pipe_ends_quietly() {
    use std::io::BufRead;
    let scenarios = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/schedule");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(["run", scenarios])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    assert!(!first.is_empty(), "sim run printed nothing");
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(out.status.code(), Some(101), "a panic's exit code");
}

#[test]
fn copies_out_of_range_name_the_field_and_line() {
    let e = errors(&GOOD.replace("duration: 1h", "duration: 1h\ncopies: 0"));
    assert_eq!(e, vec!["bad.yaml:4:9: copies: 0 is out of range (1 to 10000)".to_string()], "{e:?}");
    assert!(parse(&GOOD.replace("duration: 1h", "duration: 1h\ncopies: 10000"), "good.yaml").is_ok());
}
