//! `sim serve`: one scenario's world on a loopback Kubernetes API for a real `backup-operator` and `kubectl`, in
//! wall-clock time, with violations printed as they happen and the scenario's verdict at the end.

use chrono::{DateTime, SubsecRound, Utc};
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use super::{display_name, summary_line};
use crate::apiserver::served::Served;
use crate::apiserver::service::{ApiService, kubeconfig, serve_http};
use crate::run::RunOptions;
use crate::scenario;
use crate::trace::{TraceSink, WriterSink};

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The scenario file to serve.
    pub scenario: PathBuf,
    /// Serve at this seed instead of the scenario's own.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Address of the API server (port 0 picks a free one; the address in use is printed and in the kubeconfig).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Write a kubeconfig for the served API to this file (for `backup-operator run --kubeconfig` and kubectl).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context's namespace.
    #[arg(long, value_name = "NS", default_value = "default")]
    pub namespace: String,
    /// Serve for this long instead of the scenario's duration (`90s`, `10m`); liveness is judged at the end.
    #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration)]
    pub serve_for: Option<Duration>,
    /// Keep the scenario's own start time instead of starting the world now (clients then disagree about the time).
    #[arg(long)]
    pub scenario_start: bool,
    /// Write the trace to this file (`-` for stdout).
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Write the served run's timeline page (self-contained HTML) to this file when it ends.
    #[arg(long, value_name = "FILE.html")]
    pub timeline: Option<PathBuf>,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    operator::api::duration::parse_duration(s).map_err(|e| e.to_string())
}

fn trace_sink(path: &Option<PathBuf>) -> Result<Option<Box<dyn TraceSink>>, String> {
    let Some(path) = path else { return Ok(None) };
    if path.as_os_str() == "-" {
        return Ok(Some(Box::new(WriterSink(std::io::stdout()))));
    }
    let file = std::fs::File::create(path).map_err(|e| format!("{}: cannot write the trace: {e}", path.display()))?;
    Ok(Some(Box::new(WriterSink(std::io::LineWriter::new(file)))))
}

/// Resolves on SIGINT or SIGTERM.
async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// How far the served world's clock runs ahead of the wall clock it starts from: a client reading the wall clock
/// just before a request must never find the world's timestamps (truncated to seconds) earlier than its own.
const CLOCK_LEAD: chrono::TimeDelta = chrono::TimeDelta::milliseconds(2);

/// `sim serve`. `wall` reads the wall clock: the world starts then (unless `--scenario-start`), because served
/// clients read the wall clock and the world's timestamps must agree with it.
pub fn serve(args: &ServeArgs, wall: impl Fn() -> DateTime<Utc>) -> ExitCode {
    let mut scenario = match scenario::load(&args.scenario) {
        Ok(s) => s,
        Err(errors) => {
            eprintln!("{errors}");
            return ExitCode::from(2);
        }
    };
    if let Some(d) = args.serve_for {
        scenario.duration = d;
    }
    let trace = match trace_sink(&args.trace) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("ERROR {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match super::runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    let name = display_name(&args.scenario);
    runtime.block_on(async {
        let listener = match tokio::net::TcpListener::bind(args.listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("ERROR --listen {}: cannot listen: {e}", args.listen);
                return ExitCode::from(2);
            }
        };
        let address = match listener.local_addr() {
            Ok(a) => a,
            Err(e) => {
                eprintln!("ERROR --listen {}: {e}", args.listen);
                return ExitCode::from(2);
            }
        };
        if !args.scenario_start {
            scenario.start = wall().trunc_subsecs(3) + CLOCK_LEAD;
        }
        let (served, handle) =
            Served::new(&scenario, RunOptions { seed: args.seed, trace, timeline: args.timeline.is_some() });
        println!("seed {}", args.seed.unwrap_or(scenario.seed));
        if let Some(path) = &args.kubeconfig
            && let Err(e) = std::fs::write(path, kubeconfig(&address, &args.namespace))
        {
            eprintln!("ERROR --kubeconfig {}: cannot write it: {e}", path.display());
            return ExitCode::from(2);
        }
        println!(
            "serving {name} at http://{address} from {} for {}",
            scenario.start.to_rfc3339(),
            operator::api::duration::format_duration(served.duration())
        );
        match &args.kubeconfig {
            Some(path) => {
                println!("kubeconfig: {} (kubectl --kubeconfig {} get bks,bk -A)", path.display(), path.display())
            }
            None => println!("kubectl --server http://{address} get bks,bk -A"),
        }
        let server = tokio::spawn(serve_http(listener, ApiService::new(handle)));
        let report =
            served.run(interrupted(), |v| println!("VIOLATION {} at {}: {}", v.invariant, v.time, v.message)).await;
        server.abort();
        if report.passed {
            println!("{}", summary_line(&args.scenario, &scenario, &report));
        } else {
            // No replay command: a served run depends on its client and the wall clock, so it does not replay.
            println!("FAIL {name} (seed {}, served): {}", report.seed, report.failures.join("; "));
        }
        if let Some(Err(code)) = args.timeline.as_deref().map(|t| super::save_timeline(t, &report)) {
            return code;
        }
        if report.passed { ExitCode::SUCCESS } else { ExitCode::from(1) }
    })
}
