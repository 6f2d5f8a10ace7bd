//! Shared test support: chainable fixture builders and a tiny two-store fake cluster (API + stale cache).
#![allow(dead_code)]

pub mod builders;
pub mod fake;
