//! A YAML value as written, every node with its line and column, so a problem deep inside a manifest is reported
//! at the line of the field itself.

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

use super::raw::Loc;

/// One step of a path into a value: a map key or a list index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// Formats a path as a field path suffix: `.spec.maxBackups`, `.items[2].name`.
pub fn path_suffix(path: &[Seg]) -> String {
    path.iter()
        .map(|s| match s {
            Seg::Key(k) => format!(".{k}"),
            Seg::Index(i) => format!("[{i}]"),
        })
        .collect()
}

/// A YAML value with positions.
#[derive(Clone, Debug)]
pub enum Tree {
    Leaf(serde_json::Value),
    Seq(Vec<Loc<Tree>>),
    Map(Vec<(String, Loc<Tree>)>),
}

impl Tree {
    /// The value as JSON (what the API server would store).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Tree::Leaf(v) => v.clone(),
            Tree::Seq(items) => serde_json::Value::Array(items.iter().map(|i| i.value.to_json()).collect()),
            Tree::Map(entries) => {
                serde_json::Value::Object(entries.iter().map(|(k, v)| (k.clone(), v.value.to_json())).collect())
            }
        }
    }
}

impl Loc<Tree> {
    /// The line and column of the deepest node on `path` (the field itself when it exists).
    pub fn position_of(&self, path: &[Seg]) -> (usize, usize) {
        let mut here = self;
        for seg in path {
            let next = match (&here.value, seg) {
                (Tree::Map(entries), Seg::Key(k)) => entries.iter().find(|(name, _)| name == k).map(|(_, v)| v),
                (Tree::Seq(items), Seg::Index(i)) => items.get(*i),
                _ => None,
            };
            match next {
                Some(n) => here = n,
                None => break,
            }
        }
        (here.line, here.col)
    }
}

struct TreeVisitor;

impl<'de> Visitor<'de> for TreeVisitor {
    type Value = Tree;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Tree, E> {
        Ok(Tree::Leaf(v.into()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Tree, E> {
        Ok(Tree::Leaf(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Tree, E> {
        Ok(Tree::Leaf(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Tree, E> {
        Ok(Tree::Leaf(serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, serde_json::Value::Number)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Tree, E> {
        Ok(Tree::Leaf(v.into()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Tree, E> {
        Ok(Tree::Leaf(v.into()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Tree, E> {
        Ok(Tree::Leaf(serde_json::Value::Null))
    }
    fn visit_none<E: de::Error>(self) -> Result<Tree, E> {
        Ok(Tree::Leaf(serde_json::Value::Null))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Tree, D::Error> {
        Tree::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tree, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Loc<Tree>>()? {
            items.push(item);
        }
        Ok(Tree::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tree, A::Error> {
        let mut entries: Vec<(String, Loc<Tree>)> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value::<Loc<Tree>>()?;
            if entries.iter().any(|(k, _)| *k == key) {
                return Err(de::Error::custom(format!("duplicate key {key:?}")));
            }
            entries.push((key, value));
        }
        Ok(Tree::Map(entries))
    }
}

impl<'de> Deserialize<'de> for Tree {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TreeVisitor)
    }
}

impl JsonSchema for Tree {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        serde_json::Value::schema_name()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        serde_json::Value::json_schema(generator)
    }
}
