//! The trace: one stable text line per event (time, actor, action, object, resourceVersion or result), streamed
//! to a sink so a 30-day run never holds it in memory.

use sha2::{Digest, Sha256};
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io::Write;

use crate::time::SimTime;
use crate::timeline::Timeline;
use crate::world::Change;

/// Where trace lines go.
pub trait TraceSink {
    fn line(&mut self, line: &str);
    /// Called once at the end.
    fn finish(&mut self) {}
}

/// Discards lines (fast exploration).
pub struct NullSink;

impl TraceSink for NullSink {
    fn line(&mut self, _: &str) {}
}

/// Writes lines to a file or stdout.
pub struct WriterSink<W: Write>(pub W);

impl<W: Write> TraceSink for WriterSink<W> {
    fn line(&mut self, line: &str) {
        // A broken pipe or full disk must not change the simulation; the CLI reports the file error separately.
        let _ = writeln!(self.0, "{line}");
    }
    fn finish(&mut self) {
        let _ = self.0.flush();
    }
}

/// A summary fit for a snapshot: a SHA-256 of every line, their count, and the first and last lines.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Digest256 {
    pub sha256: String,
    pub lines: u64,
    pub head: Vec<String>,
    pub tail: Vec<String>,
}

/// Hashes lines and keeps the first and last `keep`.
pub struct DigestSink {
    hasher: Sha256,
    lines: u64,
    keep: usize,
    head: Vec<String>,
    tail: VecDeque<String>,
}

impl DigestSink {
    pub fn new(keep: usize) -> Self {
        DigestSink { hasher: Sha256::new(), lines: 0, keep, head: Vec::new(), tail: VecDeque::new() }
    }

    pub fn digest(&self) -> Digest256 {
        let hash = self.hasher.clone().finalize();
        Digest256 {
            sha256: hash.iter().map(|b| format!("{b:02x}")).collect(),
            lines: self.lines,
            head: self.head.clone(),
            tail: self.tail.iter().cloned().collect(),
        }
    }
}

impl TraceSink for DigestSink {
    fn line(&mut self, line: &str) {
        self.hasher.update(line.as_bytes());
        self.hasher.update(b"\n");
        self.lines += 1;
        if self.head.len() < self.keep {
            self.head.push(line.to_string());
        } else {
            if self.tail.len() == self.keep {
                self.tail.pop_front();
            }
            self.tail.push_back(line.to_string());
        }
    }
}

/// A sink shared with the caller, who reads it after the run (for example a digest).
pub struct SharedSink<T: TraceSink>(pub std::rc::Rc<std::cell::RefCell<T>>);

impl<T: TraceSink> TraceSink for SharedSink<T> {
    fn line(&mut self, line: &str) {
        self.0.borrow_mut().line(line);
    }
    fn finish(&mut self) {
        self.0.borrow_mut().finish();
    }
}

/// Sends one line to several sinks.
pub struct Tee(pub Vec<Box<dyn TraceSink>>);

impl TraceSink for Tee {
    fn line(&mut self, line: &str) {
        for s in &mut self.0 {
            s.line(line);
        }
    }
    fn finish(&mut self) {
        for s in &mut self.0 {
            s.finish();
        }
    }
}

/// The trace of one run: lines to a sink and, when asked for, the same events to a timeline.
pub struct Trace {
    sink: Box<dyn TraceSink>,
    enabled: bool,
    buf: String,
    pub lines: u64,
    timeline: Option<Box<Timeline>>,
}

impl Trace {
    pub fn new(sink: Box<dyn TraceSink>, enabled: bool) -> Self {
        Trace { sink, enabled, buf: String::with_capacity(256), lines: 0, timeline: None }
    }

    /// Also gathers a timeline of the run (which needs the records, so it enables them).
    pub fn attach_timeline(&mut self) {
        self.enabled = true;
        self.timeline = Some(Box::default());
    }

    /// Whether a timeline is gathered (then changes are worth reporting with [`Trace::change`]).
    pub fn has_timeline(&self) -> bool {
        self.timeline.is_some()
    }

    /// A change of the world by `actor`, for the timeline.
    pub fn change(&mut self, actor: &str, change: &Change) {
        if let Some(t) = &mut self.timeline {
            t.change(actor, change);
        }
    }

    /// The timeline gathered so far, taken out of the trace.
    pub fn take_timeline(&mut self) -> Option<Timeline> {
        self.timeline.take().map(|t| *t)
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// `2026-01-01T00:10:00.012Z backup-schedule create Backup test1/demo-... rv=42`
    pub fn record(
        &mut self,
        t: SimTime,
        actor: &str,
        action: &str,
        object: std::fmt::Arguments<'_>,
        detail: std::fmt::Arguments<'_>,
    ) {
        self.lines += 1;
        if !self.enabled {
            return;
        }
        self.buf.clear();
        let _ = write!(self.buf, "{} {actor} {action} ", t.stamp());
        let object_at = self.buf.len();
        let _ = write!(self.buf, "{object}");
        let before = self.buf.len();
        let _ = write!(self.buf, " {detail}");
        if self.buf.len() == before + 1 {
            self.buf.pop();
        }
        if let Some(timeline) = &mut self.timeline {
            let detail = self.buf.get(before + 1..).unwrap_or("");
            timeline.record(t, actor, action, &self.buf[object_at..before], detail);
        }
        self.sink.line(&self.buf);
    }

    pub fn into_sink(mut self) -> Box<dyn TraceSink> {
        self.sink.finish();
        self.sink
    }
}
