//! Log output: text or JSON lines on stderr, filtered by `--log-level` unless RUST_LOG is set.

use tracing_subscriber::EnvFilter;

use super::options::LogFormat;

/// Why logging could not start.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    #[error("invalid --log-level {filter:?}")]
    Filter {
        filter: String,
        #[source]
        source: tracing_subscriber::filter::ParseError,
    },
    #[error("a global logger is already installed")]
    AlreadySet,
}

/// kube-rs's HTTP layer logs every failed request at ERROR; the operator reports each failure itself (a reconcile
/// error with its cause, or the one start-up error line), so that target is off unless a filter names it.
const QUIET: &str = "kube_client::client::builder=off";

/// The filter: RUST_LOG when set, else `level` (with kube's per-request error log off unless `level` names it).
pub fn filter(level: &str) -> Result<EnvFilter, LoggingError> {
    match std::env::var("RUST_LOG") {
        Ok(env) if !env.trim().is_empty() => EnvFilter::try_new(&env)
            .map_err(|source| LoggingError::Filter { filter: format!("RUST_LOG={env}"), source }),
        _ => {
            let directives = if level.contains("kube_client") { level.to_string() } else { format!("{level},{QUIET}") };
            EnvFilter::try_new(directives).map_err(|source| LoggingError::Filter { filter: level.to_string(), source })
        }
    }
}

/// Installs the global subscriber.
pub fn init(format: LogFormat, level: &str) -> Result<(), LoggingError> {
    let filter = filter(level)?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Text => builder.with_ansi(false).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).try_init(),
    };
    result.map_err(|_| LoggingError::AlreadySet)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_filter_is_refused_with_the_filter_named() {
        if std::env::var("RUST_LOG").is_ok() {
            return;
        }
        assert!(filter("operator=debug,kube=warn").is_ok());
        let err = filter("operator=loud").unwrap_err().to_string();
        assert!(err.contains("operator=loud"), "{err}");
    }
}
