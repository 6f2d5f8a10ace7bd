//! The served world as HTTP: a `tower::Service` for `kube::Client::new` (in process) and a loopback HTTP/1.1
//! server for the production binary and kubectl (out of process).

use bytes::Bytes;
use futures::StreamExt;
use http::header::CONTENT_TYPE;
use http_body::Frame;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::net::TcpListener;
use tokio_stream::wrappers::UnboundedReceiverStream;

use super::handler::ApiReply;
use super::request::{ApiRequest, parse_query};
use super::served::ApiHandle;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// Response bodies: a JSON document, or a watch's stream of JSON lines.
pub type ResponseBody = BoxBody<Bytes, BoxError>;

/// The Kubernetes API of a served world.
#[derive(Clone)]
pub struct ApiService {
    handle: ApiHandle,
}

impl ApiService {
    pub fn new(handle: ApiHandle) -> Self {
        ApiService { handle }
    }
}

fn json_body(bytes: Vec<u8>) -> ResponseBody {
    Full::new(Bytes::from(bytes)).map_err(|never| match never {}).boxed()
}

fn to_response(reply: ApiReply) -> http::Response<ResponseBody> {
    let (status, body, warnings) = match reply {
        ApiReply::Json { status, body } => (status, json_body(serde_json::to_vec(&body).unwrap_or_default()), vec![]),
        ApiReply::Warned { status, body, warnings } => {
            (status, json_body(serde_json::to_vec(&body).unwrap_or_default()), warnings)
        }
        ApiReply::Watch(rx) => {
            let frames = UnboundedReceiverStream::new(rx).map(|b| Ok::<_, BoxError>(Frame::data(b)));
            (200, BoxBody::new(StreamBody::new(frames)), vec![])
        }
    };
    let mut response = http::Response::new(body);
    *response.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    for w in warnings {
        if let Ok(value) = http::HeaderValue::from_str(&w) {
            response.headers_mut().append(http::header::WARNING, value);
        }
    }
    response
}

impl<B> tower::Service<http::Request<B>> for ApiService
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Response = http::Response<ResponseBody>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let handle = self.handle.clone();
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let body = body.collect().await.map_err(Into::into)?.to_bytes();
            let request = ApiRequest {
                method: parts.method,
                path: parts.uri.path().to_string(),
                query: parse_query(parts.uri.query()),
                content_type: parts.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string),
                accept: parts.headers.get(http::header::ACCEPT).and_then(|v| v.to_str().ok()).map(str::to_string),
                body,
            };
            let reply = handle.call(request).await.ok_or("the simulated world has stopped")?;
            Ok(to_response(reply))
        })
    }
}

/// Serves `service` over HTTP/1.1 on `listener` until the task is dropped.
pub async fn serve_http(listener: TcpListener, service: ApiService) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let service = service.clone();
        tokio::spawn(async move {
            let io = hyper_util::rt::TokioIo::new(stream);
            let svc = hyper_util::service::TowerToHyperService::new(service);
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, svc).await;
        });
    }
}

/// A kubeconfig pointing at a served world on `address` (plain HTTP on loopback, no credentials).
pub fn kubeconfig(address: &std::net::SocketAddr, namespace: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: sim\n  cluster:\n    server: http://{address}\nusers:\n- name: sim\n  user: {{}}\ncontexts:\n- name: sim\n  context:\n    cluster: sim\n    user: sim\n    namespace: {namespace}\ncurrent-context: sim\n"
    )
}
