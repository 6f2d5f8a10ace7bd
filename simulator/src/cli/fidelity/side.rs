//! `Side`: one API server under comparison (the real one or `sim serve`), reached through kube-rs with a kubeconfig,
//! answering raw requests with their status code, JSON body and `Warning` headers.

use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

/// How long one request may take before it is recorded as a timeout (a watch closes itself well before).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// An answer as the suite compares it.
#[derive(Clone, Debug)]
pub struct Answer {
    pub code: u16,
    pub body: Value,
    pub warnings: Vec<String>,
}

impl Answer {
    /// The answer as one JSON value: code, body and warnings (the warnings only when there are some).
    pub fn whole(&self) -> Value {
        let mut v = json!({"code": self.code, "body": self.body});
        if !self.warnings.is_empty() {
            v["warnings"] = json!(self.warnings);
        }
        v
    }

    /// A string field of the body (`metadata.uid`), empty when absent.
    pub fn field(&self, pointer: &str) -> String {
        self.body.pointer(pointer).and_then(Value::as_str).unwrap_or_default().to_string()
    }
}

/// One API server, with the namespace the suite works in.
pub struct Side {
    pub ns: String,
    client: kube::Client,
}

#[derive(Debug, thiserror::Error)]
pub enum SideError {
    #[error("{path}: cannot read the kubeconfig: {source}")]
    Kubeconfig { path: String, source: kube::config::KubeconfigError },
    #[error("{path}: cannot build a client from the kubeconfig: {source}")]
    Client { path: String, source: kube::Error },
}

impl Side {
    /// A side reached through the current context of the kubeconfig at `path`.
    pub async fn connect(path: &Path, ns: &str) -> Result<Side, SideError> {
        let shown = path.display().to_string();
        let kubeconfig = kube::config::Kubeconfig::read_from(path)
            .map_err(|source| SideError::Kubeconfig { path: shown.clone(), source })?;
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .map_err(|source| SideError::Kubeconfig { path: shown.clone(), source })?;
        let client = kube::Client::try_from(config).map_err(|source| SideError::Client { path: shown, source })?;
        Ok(Side { ns: ns.to_string(), client })
    }

    /// The collection URL of `plural` in the suite's namespace: `pingcap.com/v1alpha1`, `batch/v1`, or `v1`.
    pub fn url(&self, group_version: &str, plural: &str) -> String {
        let prefix = if group_version == "v1" { "/api/v1".to_string() } else { format!("/apis/{group_version}") };
        format!("{prefix}/namespaces/{}/{plural}", self.ns)
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.call("GET", path, None, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.call("POST", path, Some("application/json"), Some(body)).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Answer {
        self.call("PUT", path, Some("application/json"), Some(body)).await
    }

    pub async fn patch(&self, path: &str, content_type: &str, body: &Value) -> Answer {
        self.call("PATCH", path, Some(content_type), Some(body)).await
    }

    pub async fn delete(&self, path: &str, options: Option<&Value>) -> Answer {
        self.call("DELETE", path, options.map(|_| "application/json"), options).await
    }

    /// A request with a JSON body; the answer's body is parsed as JSON, or as lines of JSON (a watch), or kept as a
    /// string. A transport failure or a timeout is answered with code 0 and the error.
    pub async fn call(&self, method: &str, path: &str, content_type: Option<&str>, body: Option<&Value>) -> Answer {
        self.call_accepting(method, path, content_type, body, "application/json").await
    }

    pub async fn call_accepting(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Option<&Value>,
        accept: &str,
    ) -> Answer {
        let mut request = http::Request::builder().method(method).uri(path).header("accept", accept);
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        let bytes = body.map(|b| serde_json::to_vec(b).expect("JSON values serialise")).unwrap_or_default();
        let request = match request.body(kube::client::Body::from(bytes)) {
            Ok(r) => r,
            Err(e) => return failed(format!("{method} {path}: {e}")),
        };
        let response = match tokio::time::timeout(REQUEST_TIMEOUT, self.client.send(request)).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => return failed(format!("{method} {path}: {e}")),
            Err(_) => return failed(format!("{method} {path}: no answer within {REQUEST_TIMEOUT:?}")),
        };
        let code = response.status().as_u16();
        let warnings = response
            .headers()
            .get_all("warning")
            .iter()
            .map(|w| String::from_utf8_lossy(w.as_bytes()).into_owned())
            .collect();
        let collected = tokio::time::timeout(REQUEST_TIMEOUT, response.into_body().collect()).await;
        let bytes = match collected {
            Ok(Ok(c)) => c.to_bytes(),
            Ok(Err(e)) => return failed(format!("{method} {path}: reading the body: {e}")),
            Err(_) => return failed(format!("{method} {path}: the body did not end within {REQUEST_TIMEOUT:?}")),
        };
        Answer { code, body: parse_body(&bytes), warnings }
    }
}

fn failed(message: String) -> Answer {
    Answer { code: 0, body: Value::String(message), warnings: Vec::new() }
}

/// JSON; else JSON lines (a watch's events, as an array); else the text.
fn parse_body(bytes: &[u8]) -> Value {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Value::Null;
    }
    if let Ok(v) = serde_json::from_slice::<Value>(bytes) {
        return v;
    }
    let text = String::from_utf8_lossy(bytes);
    let lines: Result<Vec<Value>, _> =
        text.lines().filter(|l| !l.trim().is_empty()).map(serde_json::from_str::<Value>).collect();
    match lines {
        Ok(events) => Value::Array(events),
        Err(_) => Value::String(text.trim().to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_watch_body_parses_as_an_array_of_its_events() {
        let body = b"{\"type\":\"ADDED\"}\n{\"type\":\"DELETED\"}\n";
        assert_eq!(parse_body(body), json!([{"type": "ADDED"}, {"type": "DELETED"}]));
        assert_eq!(parse_body(b"{\"a\":1}"), json!({"a": 1}));
        assert_eq!(parse_body(b"404 page not found\n"), json!("404 page not found"));
        assert_eq!(parse_body(b""), Value::Null);
    }
}
