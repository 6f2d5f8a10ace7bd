//! Exploring beyond one machine: `sim explore --shard K/N --results` on every shard, then `sim merge`, prints the
//! summary one unsharded run prints and shrinks the same first seed; results from the sim image's paths merge in a
//! checkout; the Indexed Job manifest runs every shard of the seeds it names.

use clap::Parser;
use k8s_openapi::api::batch::v1::Job;
use simulator::cli::ExploreArgs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const ZOO_STORY: &str = "scenarios/zoo/schedule-reset-stale-informer.yaml";
const CLEAN_STORY: &str = "scenarios/schedule/basic.yaml";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sim")).args(args).current_dir(repo()).output().expect("sim runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The summary without its first line (what ran where) and last (speed), with the shrink folder named OUT.
fn findings_part(text: &str, out: &Path) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    lines[1..lines.len() - 1].iter().map(|l| l.replace(&out.display().to_string(), "OUT")).collect()
}

#[test]
fn shards_merged_print_the_summary_of_one_run_and_shrink_the_same_first_seed() {
    let tmp = tempfile::tempdir().unwrap();
    let (whole_out, merged_out) = (tmp.path().join("whole"), tmp.path().join("merged"));
    let common = ["explore", "--seeds", "7", "--start", "3", "--shrink-budget", "20", ZOO_STORY, CLEAN_STORY];
    let whole = sim(&[&common[..], &["--out", whole_out.to_str().unwrap()]].concat());
    assert_eq!(whole.status.code(), Some(1), "the zoo story violates: {}", stdout(&whole));

    for k in 0..3 {
        let results = tmp.path().join(format!("shard-{k}.jsonl"));
        let shard = format!("{k}/3");
        let ran = sim(&[&common[..], &["--shard", &shard, "--results", results.to_str().unwrap()]].concat());
        assert!(matches!(ran.status.code(), Some(0 | 1)), "shard {k}: {}", String::from_utf8_lossy(&ran.stderr));
        assert!(!tmp.path().join("shrunk").exists(), "a shard does not shrink");
    }
    let merged =
        sim(&["merge", "--shrink-budget", "20", "--out", merged_out.to_str().unwrap(), tmp.path().to_str().unwrap()]);
    assert_eq!(merged.status.code(), Some(1), "{}", String::from_utf8_lossy(&merged.stderr));

    let (whole_text, merged_text) = (stdout(&whole), stdout(&merged));
    assert_eq!(findings_part(&merged_text, &merged_out), findings_part(&whole_text, &whole_out));
    assert!(merged_text.starts_with("merged 3 shard(s) of seeds 3..=9 of 2 scenario(s)\n"), "{merged_text}");
    assert!(merged_text.contains("schedule/basic: 7 seeds, 0 violating"), "{merged_text}");
    let mut shrunk: Vec<_> = std::fs::read_dir(&merged_out).unwrap().map(|e| e.unwrap().path()).collect();
    shrunk.sort();
    let names: Vec<_> = shrunk.iter().map(|p| p.extension().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["html", "yaml"], "one shrunk scenario and its timeline page: {shrunk:?}");
    assert_eq!(shrunk[0].file_stem(), shrunk[1].file_stem(), "the page sits beside its scenario");
}

#[test]
fn results_written_in_the_sim_image_merge_in_a_checkout_and_a_changed_file_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("r.jsonl");
    let ran = sim(&["explore", "--seeds", "2", "--shard", "0/1", "--results", "-", CLEAN_STORY]);
    assert_eq!(ran.status.code(), Some(0));
    let line = stdout(&ran);
    assert!(String::from_utf8_lossy(&ran.stderr).contains("schedule/basic: 2 seeds, 0 violating"), "summary on stderr");
    std::fs::write(&results, line.replace(&format!("\"{CLEAN_STORY}\""), "\"/scenarios/schedule/basic.yaml\""))
        .unwrap();
    let merged = sim(&["merge", results.to_str().unwrap()]);
    assert_eq!(merged.status.code(), Some(0), "{}", String::from_utf8_lossy(&merged.stderr));
    assert!(stdout(&merged).contains("schedule/basic: 2 seeds, 0 violating"));

    let elsewhere = tmp.path().join("scenarios/schedule");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let text = std::fs::read_to_string(repo().join(CLEAN_STORY)).unwrap();
    std::fs::write(elsewhere.join("basic.yaml"), text.replace("duration: 6h", "duration: 5h")).unwrap();
    let scenarios = tmp.path().join("scenarios");
    let refused = sim(&["merge", "--scenarios", scenarios.to_str().unwrap(), results.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(2));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("not the file the shards ran"), "{err}");
}

#[test]
fn merge_refuses_incomplete_results_naming_the_missing_shards() {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("r.jsonl");
    let ran = sim(&["explore", "--seeds", "4", "--shard", "1/4", "--results", results.to_str().unwrap(), CLEAN_STORY]);
    assert_eq!(ran.status.code(), Some(0));
    let merged = sim(&["merge", results.to_str().unwrap()]);
    assert_eq!(merged.status.code(), Some(2));
    let err = String::from_utf8_lossy(&merged.stderr);
    assert!(err.contains("schedule/basic: shard(s) 0, 2, 3 of 4 missing"), "{err}");
}

#[derive(Parser)]
struct ExploreCommand {
    #[command(flatten)]
    args: ExploreArgs,
}

#[test]
fn the_explore_job_manifest_is_an_indexed_job_that_runs_every_shard_of_existing_scenarios() {
    let dir = repo().join("simulator/deploy/explore");
    let text = std::fs::read_to_string(dir.join("job.yaml")).unwrap();
    let job: Job = serde_saphyr::from_str(&text).expect("job.yaml is a batch/v1 Job");
    let spec = job.spec.expect("a Job spec");
    assert_eq!(spec.completion_mode.as_deref(), Some("Indexed"));
    let completions = spec.completions.expect("completions") as u64;
    let pod = spec.template.spec.expect("a pod spec");
    let args = pod.containers[0].args.clone().expect("args");
    assert_eq!(args[0], "explore");
    let shard_arg = format!("$(JOB_COMPLETION_INDEX)/{completions}");
    assert!(args.contains(&shard_arg), "--shard {shard_arg} (the shard count is the Job's completions): {args:?}");
    for index in 0..completions {
        let argv = std::iter::once("sim".to_string())
            .chain(args[1..].iter().map(|a| a.replace("$(JOB_COMPLETION_INDEX)", &index.to_string())));
        let parsed = ExploreCommand::try_parse_from(argv).expect("the Job's args are sim explore's").args;
        let shard = parsed.shard.expect("a shard");
        assert_eq!((shard.index, shard.count), (index, completions));
        assert_eq!(parsed.results.as_deref(), Some(Path::new("-")), "results on stdout, for kubectl logs");
        for p in &parsed.paths {
            let local = repo().join(p.strip_prefix("/").expect("an absolute path in the image"));
            assert!(local.exists(), "{} is in the image's /scenarios", p.display());
        }
    }
    let kustomization = std::fs::read_to_string(dir.join("kustomization.yaml")).unwrap();
    assert!(kustomization.contains("- job.yaml"));
    if let Ok(out) = Command::new("kubectl").args(["kustomize", dir.to_str().unwrap()]).output() {
        assert!(out.status.success(), "kubectl kustomize: {}", String::from_utf8_lossy(&out.stderr));
        let rendered: Job = serde_saphyr::from_str(&String::from_utf8_lossy(&out.stdout)).unwrap();
        let image = rendered.spec.unwrap().template.spec.unwrap().containers[0].image.clone().unwrap();
        assert_eq!(image, "ghcr.io/tidb-backup-operator/sim:0.1.0");
    }
}
