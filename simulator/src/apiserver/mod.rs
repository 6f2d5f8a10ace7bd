//! The simulated world served through the Kubernetes REST API: the part kube-rs, kube-runtime and `kubectl get`
//! use (discovery, get, list, watch, create, update, patch, delete, the status subresource, Leases, Events), with
//! the world's own semantics and the scenario's API faults. The production operator runs unchanged against it.

pub mod decode;
pub mod discovery;
pub mod event_view;
pub mod handler;
pub mod openapi;
pub mod request;
pub mod resources;
pub mod selector;
pub mod served;
pub mod service;
pub mod status;
pub mod table;
pub mod watch;
