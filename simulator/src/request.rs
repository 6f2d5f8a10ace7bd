//! `Request` and `Response`: an API call of a simulated client and the API server's answer, as the engine carries
//! them between a task and the world.

use operator::cluster::{ClusterError, Deletion, Kind, Labels, ObjectKey, Precondition, Verb};

use crate::object::Obj;

/// A request to the API server.
#[derive(Clone, Debug)]
pub enum Request {
    Get(Kind, ObjectKey),
    List(Kind, String, Labels),
    Create(Obj),
    Update(Obj),
    UpdateStatus(Obj),
    Delete(Kind, ObjectKey, Precondition),
}

impl Request {
    pub fn verb(&self) -> Verb {
        match self {
            Request::Get(..) => Verb::Get,
            Request::List(..) => Verb::List,
            Request::Create(_) => Verb::Create,
            Request::Update(_) => Verb::Update,
            Request::UpdateStatus(_) => Verb::UpdateStatus,
            Request::Delete(..) => Verb::Delete,
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Request::Get(k, _) | Request::List(k, ..) | Request::Delete(k, ..) => *k,
            Request::Create(o) | Request::Update(o) | Request::UpdateStatus(o) => o.kind(),
        }
    }

    pub fn key(&self) -> ObjectKey {
        match self {
            Request::Get(_, key) | Request::Delete(_, key, _) => key.clone(),
            Request::List(_, ns, _) => ObjectKey::new(ns.clone(), "*"),
            Request::Create(o) | Request::Update(o) | Request::UpdateStatus(o) => o.key(),
        }
    }
}

/// The API server's answer.
#[derive(Clone, Debug)]
pub enum Response {
    Got(Option<Obj>),
    Listed(Vec<Obj>),
    Written(Obj),
    Deleted(Deletion<Obj>),
    Failed(ClusterError),
}
