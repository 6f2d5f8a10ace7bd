//! Graceful shutdown: SIGTERM or SIGINT cancels one token that every part of the process watches; a second signal
//! exits at once.

use tokio_util::sync::CancellationToken;

/// Why the signal handlers could not be installed.
#[derive(Debug, thiserror::Error)]
#[error("cannot install the SIGTERM/SIGINT handlers")]
pub struct SignalError(#[source] std::io::Error);

/// Installs the handlers and returns the token they cancel. Must run inside a tokio runtime.
pub fn on_signals() -> Result<CancellationToken, SignalError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).map_err(SignalError)?;
    let mut int = signal(SignalKind::interrupt()).map_err(SignalError)?;
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: shutting down after the running reconciles"),
            _ = int.recv() => tracing::info!("SIGINT: shutting down after the running reconciles"),
        }
        cancel.cancel();
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        tracing::warn!("second signal: exiting now");
        std::process::exit(130);
    });
    Ok(token)
}
