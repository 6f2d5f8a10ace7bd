//! `Request` and `Response`: an API call of a simulated client and the API server's answer, as the engine carries
//! them between a task and the world, and `InFlight`, the requests sent and the answers not yet taken.

use operator::cluster::{ClusterError, Deletion, Kind, Labels, ObjectKey, Precondition, Verb};

use std::collections::BTreeMap;

use crate::actor::Actor;
use crate::object::Obj;
use crate::task_id::{ReqId, TaskId};

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

/// A request on its way to the API server.
pub struct Sent {
    pub actor: Actor,
    /// The task awaiting the answer (none for the simulator's own controllers' calls).
    pub task: Option<TaskId>,
    pub request: Request,
}

/// The requests in flight and the answers their tasks have not taken yet.
#[derive(Default)]
pub struct InFlight {
    sent: BTreeMap<ReqId, Sent>,
    answers: BTreeMap<ReqId, Response>,
}

impl InFlight {
    pub fn send(&mut self, id: ReqId, sent: Sent) {
        self.sent.insert(id, sent);
    }

    /// The request `id` reached the server.
    pub fn arrive(&mut self, id: ReqId) -> Option<Sent> {
        self.sent.remove(&id)
    }

    pub fn answer(&mut self, id: ReqId, response: Response) {
        self.answers.insert(id, response);
    }

    /// The answer to `id`, once, if it came.
    pub fn take_answer(&mut self, id: ReqId) -> Option<Response> {
        self.answers.remove(&id)
    }
}
