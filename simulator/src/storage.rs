//! Simulated object storage: object keys (`s3://bucket/prefix/file`) and sizes, with prefix deletion that never
//! reaches a neighbouring prefix.

use std::collections::BTreeMap;

/// Every stored object, by full key.
#[derive(Clone, Debug, Default)]
pub struct Storage {
    objects: BTreeMap<String, u64>,
}

impl Storage {
    pub fn put(&mut self, key: String, size: u64) {
        self.objects.insert(key, size);
    }

    pub fn contains(&self, key: &str) -> bool {
        self.objects.contains_key(key)
    }

    /// Keys under `url/` (the prefix as a directory: `.../demo` does not contain `.../demo-1/x`).
    pub fn under<'a>(&'a self, url: &str) -> impl Iterator<Item = &'a String> + 'a {
        let dir = format!("{}/", url.trim_end_matches('/'));
        self.objects.range(dir.clone()..).map(|(k, _)| k).take_while(move |k| k.starts_with(&dir))
    }

    /// Deletes every object under `url/`; returns the deleted keys.
    pub fn delete_under(&mut self, url: &str) -> Vec<String> {
        let doomed: Vec<String> = self.under(url).cloned().collect();
        for k in &doomed {
            self.objects.remove(k);
        }
        doomed
    }

    pub fn len(&self) -> usize {
        self.objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deleting_a_prefix_spares_its_neighbours() {
        let mut s = Storage::default();
        s.put("s3://b/demo/backupmeta".into(), 1);
        s.put("s3://b/demo/1.sst".into(), 1);
        s.put("s3://b/demo-1/backupmeta".into(), 1);
        assert_eq!(s.delete_under("s3://b/demo").len(), 2);
        assert!(s.contains("s3://b/demo-1/backupmeta"));
    }
}
