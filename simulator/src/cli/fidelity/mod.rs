//! `sim fidelity`: the same API interactions against a real kube-apiserver and against `sim serve`, their
//! normalised answers compared, `N of M behaviours identical` printed, and every difference either fixed in the
//! simulator or listed in [`KNOWN`] (and in the README's "What differs") with its reason.

mod behaviours;
mod normalise;
mod side;

use clap::Args;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::ExitCode;

use behaviours::{Behaviour, Obs};
use side::Side;

/// Behaviours known to differ, with the reason they are left so. The README's "What differs" names each.
pub const KNOWN: &[(&str, &str)] = &[
    (
        "finalizers",
        "kube-apiserver lists the cause of a finalizer added while deleting twice in details.causes; the simulator once",
    ),
    ("openapi-v2", "only OpenAPI v3 is served (kubectl reads v3; v2 is a protobuf document clients fall back to)"),
];

#[derive(Args, Debug)]
pub struct FidelityArgs {
    /// Kubeconfig of the real API server (its current context).
    #[arg(long, value_name = "FILE")]
    pub real: PathBuf,
    /// Kubeconfig of `sim serve` (as its --kubeconfig writes it).
    #[arg(long, value_name = "FILE")]
    pub sim: PathBuf,
    /// The namespace both sides work in (it must exist on the real server and hold nothing the suite names).
    #[arg(long, value_name = "NS", default_value = "fidelity")]
    pub namespace: String,
    /// Run only these behaviours (comma-separated).
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub only: Vec<String>,
    /// Write every observation of both sides to this file (JSON), to read a difference in full.
    #[arg(long, value_name = "FILE")]
    pub observations: Option<PathBuf>,
}

/// How one behaviour compared.
enum Verdict {
    Same,
    Differs { label: String, real: Value, sim: Value },
}

fn compare(real: &Obs, sim: &Obs) -> Verdict {
    let blank = (String::new(), Value::Null);
    for i in 0..real.0.len().max(sim.0.len()) {
        let (r, s) = (real.0.get(i).unwrap_or(&blank), sim.0.get(i).unwrap_or(&blank));
        if r != s {
            let label = if r.0.is_empty() { s.0.clone() } else { r.0.clone() };
            return Verdict::Differs { label, real: r.1.clone(), sim: s.1.clone() };
        }
    }
    Verdict::Same
}

fn known(name: &str) -> Option<&'static str> {
    KNOWN.iter().find(|(n, _)| *n == name).map(|(_, why)| *why)
}

fn brief(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 600 { format!("{}...", s.chars().take(600).collect::<String>()) } else { s }
}

/// `sim fidelity`.
pub fn fidelity(args: &FidelityArgs) -> ExitCode {
    let unknown: Vec<&String> =
        args.only.iter().filter(|n| !behaviours::all().iter().any(|b| b.name == n.as_str())).collect();
    if !unknown.is_empty() {
        let names: Vec<&str> = behaviours::all().iter().map(|b| b.name).collect();
        eprintln!("ERROR --only: no behaviour named {unknown:?}; the behaviours are: {}", names.join(", "));
        return ExitCode::from(2);
    }
    let runtime = match crate::cli::runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    runtime.block_on(run(args))
}

async fn run(args: &FidelityArgs) -> ExitCode {
    let (real, sim) =
        match (Side::connect(&args.real, &args.namespace).await, Side::connect(&args.sim, &args.namespace).await) {
            (Ok(r), Ok(s)) => (r, s),
            (Err(e), _) | (_, Err(e)) => {
                eprintln!("ERROR {e}");
                return ExitCode::from(2);
            }
        };
    let chosen: Vec<Behaviour> = behaviours::all()
        .into_iter()
        .filter(|b| args.only.is_empty() || args.only.iter().any(|n| n == b.name))
        .collect();
    let (mut same, mut unexplained, mut stale) = (0, 0, 0);
    let mut record = Vec::new();
    for b in &chosen {
        let (mut on_real, mut on_sim) = (Obs::default(), Obs::default());
        (b.run)(&real, &mut on_real).await;
        (b.run)(&sim, &mut on_sim).await;
        let reason = known(b.name);
        match (compare(&on_real, &on_sim), reason) {
            (Verdict::Same, None) => {
                same += 1;
                println!("  same     {}", b.name);
            }
            (Verdict::Same, Some(_)) => {
                same += 1;
                stale += 1;
                println!("  same     {} (listed as a known difference: remove it from KNOWN and the README)", b.name);
            }
            (Verdict::Differs { label, real, sim }, why) => {
                match why {
                    Some(why) => println!("  known    {}: {label}: {why}", b.name),
                    None => {
                        unexplained += 1;
                        println!("  DIFFERS  {}: {label}", b.name);
                    }
                }
                println!("             real: {}", brief(&real));
                println!("             sim:  {}", brief(&sim));
            }
        }
        record.push(json!({"behaviour": b.name, "real": obs_json(&on_real), "sim": obs_json(&on_sim)}));
    }
    let plural = if unexplained == 1 { "" } else { "s" };
    println!("{same} of {} behaviours identical ({unexplained} unexplained difference{plural})", chosen.len());
    if let Some(path) = &args.observations
        && let Err(e) = std::fs::write(path, serde_json::to_string_pretty(&record).expect("JSON values serialise"))
    {
        eprintln!("ERROR --observations {}: cannot write it: {e}", path.display());
        return ExitCode::from(2);
    }
    if unexplained > 0 || stale > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS }
}

fn obs_json(o: &Obs) -> Value {
    Value::Array(o.0.iter().map(|(label, v)| json!([label, v])).collect())
}

/// The names of every behaviour, in order (for the README check).
pub fn behaviour_names() -> Vec<&'static str> {
    behaviours::all().iter().map(|b| b.name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_difference_names_a_behaviour() {
        let names = behaviour_names();
        for (name, _) in KNOWN {
            assert!(names.contains(name), "KNOWN names {name}, which is not a behaviour");
        }
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len(), "behaviour names are unique");
    }

    #[test]
    fn the_readme_lists_every_known_difference_under_what_differs() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
        let section = readme.split("#### What differs from a real API server").nth(1).expect("the section exists");
        let section = section.split("\n#").next().unwrap_or(section);
        for (name, _) in KNOWN {
            assert!(section.contains(&format!("- `{name}`")), "README's What differs does not list {name}");
        }
        let listed = section.matches("\n- `").count();
        assert_eq!(listed, KNOWN.len(), "README's What differs lists a behaviour KNOWN does not");
    }

    #[test]
    fn the_first_differing_observation_is_reported() {
        let a = Obs(vec![("x".into(), json!(1)), ("y".into(), json!(2))]);
        let b = Obs(vec![("x".into(), json!(1)), ("y".into(), json!(3))]);
        let Verdict::Differs { label, real, sim } = compare(&a, &b) else { panic!("they differ") };
        assert_eq!((label.as_str(), real, sim), ("y", json!(2), json!(3)));
        assert!(matches!(compare(&a, &a), Verdict::Same));
        let shorter = Obs(vec![("x".into(), json!(1))]);
        assert!(matches!(compare(&a, &shorter), Verdict::Differs { .. }));
    }
}
