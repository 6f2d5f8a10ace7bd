//! A mocked Kubernetes API server for kube-rs clients (kube's tower-test approach): every request is recorded with
//! the RBAC attributes the API server's authorizer would derive from it, and answered by a responder function.
#![allow(dead_code)]

use http::{Request, Response, StatusCode};
use kube::client::Body;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use tokio::task::JoinHandle;

/// One request as the API server received it.
#[derive(Clone, Debug, PartialEq)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub body: Value,
}

/// The RBAC view of a request: API group, resource (`plural` or `plural/subresource`) and verb.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Attributes {
    pub group: String,
    pub resource: String,
    pub verb: String,
}

impl Recorded {
    /// A query parameter, URL-decoded.
    pub fn param(&self, name: &str) -> Option<String> {
        self.query.split('&').filter_map(|kv| kv.split_once('=')).find(|(k, _)| *k == name).map(|(_, v)| decode(v))
    }

    /// The attributes Kubernetes' request-info resolver derives from the method and path.
    pub fn attributes(&self) -> Attributes {
        let parts: Vec<&str> = self.path.trim_matches('/').split('/').collect();
        // /api/v1/... or /apis/<group>/<version>/...
        let (group, rest) = match parts.as_slice() {
            ["api", _version, rest @ ..] => (String::new(), rest.to_vec()),
            ["apis", group, _version, rest @ ..] => (group.to_string(), rest.to_vec()),
            _ => panic!("not a resource path: {}", self.path),
        };
        let rest = match rest.as_slice() {
            ["namespaces", _ns, tail @ ..] if !tail.is_empty() => tail.to_vec(),
            other => other.to_vec(),
        };
        let (resource, has_name) = match rest.as_slice() {
            [plural] => (plural.to_string(), false),
            [plural, _name] => (plural.to_string(), true),
            [plural, _name, sub] => (format!("{plural}/{sub}"), true),
            _ => panic!("unexpected resource path {}", self.path),
        };
        let watching = self.param("watch").is_some_and(|v| v == "true" || v == "1");
        let verb = match (self.method.as_str(), has_name) {
            ("GET", true) => "get",
            ("GET", false) if watching => "watch",
            ("GET", false) => "list",
            ("POST", _) => "create",
            ("PUT", _) => "update",
            ("PATCH", _) => "patch",
            ("DELETE", true) => "delete",
            ("DELETE", false) => "deletecollection",
            (m, _) => panic!("unexpected method {m}"),
        };
        Attributes { group, resource, verb: verb.into() }
    }
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

/// How the mock answers one request.
pub enum Reply {
    /// An HTTP response.
    Respond(Response<Body>),
    /// A transport failure (connection refused, timeout): the client sees a service error.
    Fail(std::io::Error),
    /// No answer ever (a watch that stays open).
    Hold,
}

/// A JSON response.
pub fn json_reply(code: u16, value: Value) -> Reply {
    let mut resp = Response::new(Body::from(serde_json::to_vec(&value).unwrap()));
    *resp.status_mut() = StatusCode::from_u16(code).unwrap();
    resp.headers_mut().insert(http::header::CONTENT_TYPE, "application/json".parse().unwrap());
    Reply::Respond(resp)
}

/// A plain-text response (as a proxy or a missing API path gives).
pub fn text_reply(code: u16, text: &str) -> Reply {
    let mut resp = Response::new(Body::from(text.as_bytes().to_vec()));
    *resp.status_mut() = StatusCode::from_u16(code).unwrap();
    Reply::Respond(resp)
}

/// A failure `Status` as the API server writes it.
pub fn status_json(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason, "code": code})
}

/// A failure `Status` reply.
pub fn status_reply(code: u16, reason: &str, message: &str) -> Reply {
    json_reply(code, status_json(code, reason, message))
}

/// The `Status` of a successful delete.
pub fn success_status() -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
           "details": {"name": "x", "kind": "jobs"}})
}

/// A running mock API server and the client that talks to it.
pub struct MockApi {
    pub client: kube::Client,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
    task: JoinHandle<()>,
}

impl MockApi {
    /// Serves every request with `responder`. Needs a tokio runtime.
    pub fn serve(responder: impl FnMut(&Recorded) -> Reply + Send + 'static) -> MockApi {
        let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = requests.clone();
        let task = tokio::spawn(async move {
            let mut handle = std::pin::pin!(handle);
            let mut responder = responder;
            let mut held = Vec::new();
            while let Some((req, send)) = handle.next_request().await {
                let (parts, body) = req.into_parts();
                let bytes = body.collect_bytes().await.unwrap_or_default();
                let rec = Recorded {
                    method: parts.method.to_string(),
                    path: parts.uri.path().to_string(),
                    query: parts.uri.query().unwrap_or_default().to_string(),
                    body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
                };
                recorded.lock().unwrap().push(rec.clone());
                match responder(&rec) {
                    Reply::Respond(resp) => send.send_response(resp),
                    Reply::Fail(e) => send.send_error(e),
                    Reply::Hold => held.push(send),
                }
            }
        });
        MockApi { client: kube::Client::new(service, "default"), requests, task }
    }

    /// The requests so far.
    pub fn recorded(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// The one request so far (panics if there were others).
    pub fn only(&self) -> Recorded {
        let all = self.recorded();
        assert_eq!(all.len(), 1, "expected exactly one request, got {all:#?}");
        all.into_iter().next().unwrap()
    }
}

impl Drop for MockApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}
