//! A deterministic, seeded, in-memory Kubernetes for the backup operator: the API server's semantics, informers
//! with lag and stalls, a kube-runtime-like controller loop, Jobs, pods, simulated tools and storage, faults,
//! invariant checkers, scenarios, and the bug zoo. The operator's real reconcilers and backup-manager run on it
//! unchanged, through the `Cluster` trait.

pub mod actor;
pub mod agenda;
pub mod allocator;
pub mod api;
pub mod apiserver;
pub mod bus;
pub mod cli;
pub mod client;
pub mod controller;
pub mod controller_id;
pub mod controller_loop;
pub mod defaults;
pub mod dyn_kind;
pub mod engine;
pub mod event;
pub mod explore;
pub mod faults;
pub mod garbage_collector;
pub mod generate;
pub mod index;
pub mod informer;
pub mod informer_feed;
pub mod invariant_id;
pub mod invariants;
pub mod job_controller;
pub mod kubelet;
pub mod lagged;
pub mod log_tasks;
pub mod lookup;
pub mod object;
pub mod pod_processes;
pub mod request;
pub mod rng;
pub mod run;
pub mod scenario;
pub mod schedule_backups;
pub mod shard;
pub mod shrink;
pub mod stats;
pub mod steps;
pub mod storage;
pub mod task_id;
pub mod tasks;
pub mod time;
pub mod timeline;
pub mod trace;
pub mod validation;
pub mod work_queue;
pub mod world;
pub mod zoo;
pub mod zoo_catalog;
