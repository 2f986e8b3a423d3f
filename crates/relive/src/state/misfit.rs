//! Finds where in a state the value is that a worker's code cannot read: `/player/hp`.
//!
//! The decoder says what it found (`invalid type: string "x", expected u32`), not where. The
//! worker's code is the only judge of what fits, so the host asks it: it turns the old state into
//! JSON (field names are in the bytes), puts the new version's default in place of one value at a
//! time, and lets the new version decode each variant. The value whose replacement makes the state
//! readable is the one that does not fit; the search goes down into it. Everything runs on the
//! host's side and only after a refusal; no code is added to the worker. Bounded: states above
//! [`MAX_BYTES`] or searches above [`MAX_TRIES`] decodes give no path.

use serde_json::Value;

use crate::loader::library::Library;
use crate::state::snapshot::Snapshot;

/// Largest encoded state searched.
const MAX_BYTES: usize = 1 << 20;
/// Most decodes one search may ask of the worker.
const MAX_TRIES: usize = 200;

/// The JSON pointer of the value in `bytes` (a state of version `from_version`) that `lib` cannot
/// read, when the search finds one.
pub(crate) fn find(lib: &Library, bytes: &[u8], from_version: u32) -> Option<String> {
    if bytes.len() > MAX_BYTES || from_version != lib.state_version() {
        return None;
    }
    let snapshot = |bytes: Vec<u8>| Snapshot {
        state_type: lib.state_type().to_owned(),
        state_version: from_version,
        bytes,
    };
    let old = snapshot(bytes.to_vec()).to_json().ok()?;
    let default = {
        let state = lib.create().ok()?;
        // SAFETY: `state` was just created by `lib`.
        let saved = unsafe { lib.save(state) };
        // SAFETY: as above; not used after.
        let _ = unsafe { lib.drop_state(state) };
        snapshot(saved.ok()?).to_json().ok()?
    };
    let mut search = Search {
        lib,
        from_version,
        tries: 0,
    };
    let mut path = Vec::new();
    search.descend(&old, &old, &default, &mut path)
}

struct Search<'a> {
    lib: &'a Library,
    from_version: u32,
    tries: usize,
}

impl Search<'_> {
    /// Whether the new code reads `state`.
    fn reads(&mut self, state: &Value) -> bool {
        self.tries += 1;
        if self.tries > MAX_TRIES {
            return false;
        }
        let Ok(encoded) = Snapshot::from_json(self.lib.state_type(), self.from_version, state)
        else {
            return false;
        };
        match self.lib.load(&encoded.bytes, self.from_version) {
            Ok(state) => {
                // SAFETY: `state` was just created by this library and is not used after.
                let _ = unsafe { self.lib.drop_state(state) };
                true
            }
            Err(_) => false,
        }
    }

    /// The pointer of the misfit inside the value at `path` (`here` in the old state `root`,
    /// `default` the new version's default there, if it has one).
    fn descend(
        &mut self,
        root: &Value,
        here: &Value,
        default: &Value,
        path: &mut Vec<String>,
    ) -> Option<String> {
        let children: Vec<(String, Option<Value>)> = match (here, default) {
            (Value::Object(map), Value::Object(def)) => {
                let mut keys: Vec<(String, Option<Value>)> = map
                    .keys()
                    .map(|k| (k.clone(), def.get(k).cloned()))
                    .collect();
                // A field the new code has and the old state lacks (no default for it).
                keys.extend(
                    def.iter()
                        .filter(|(k, _)| !map.contains_key(*k))
                        .map(|(k, v)| (k.clone(), Some(v.clone()))),
                );
                keys
            }
            (Value::Object(map), _) => map.keys().map(|k| (k.clone(), None)).collect(),
            (Value::Array(items), _) => (0..items.len()).map(|i| (i.to_string(), None)).collect(),
            _ => Vec::new(),
        };
        for (key, replacement) in children {
            path.push(key);
            let mut variant = root.clone();
            let fixed = match pointer_mut(&mut variant, path) {
                Some(slot) => match &replacement {
                    Some(value) => {
                        *slot = value.clone();
                        true
                    }
                    None => remove(&mut variant, path),
                },
                // Not in the old state: add the new default.
                None => replacement
                    .as_ref()
                    .is_some_and(|value| insert(&mut variant, path, value)),
            };
            if fixed && self.reads(&variant) {
                let child = pointer(root, path).cloned().unwrap_or(Value::Null);
                let child_default = replacement.unwrap_or(Value::Null);
                let deeper = if matches!(child, Value::Object(_) | Value::Array(_)) {
                    self.descend(root, &child, &child_default, path)
                } else {
                    None
                };
                let found = deeper.or_else(|| Some(to_pointer(path)));
                path.pop();
                return found;
            }
            path.pop();
            if self.tries > MAX_TRIES {
                return None;
            }
        }
        None
    }
}

fn to_pointer(path: &[String]) -> String {
    path.iter()
        .map(|p| format!("/{}", p.replace('~', "~0").replace('/', "~1")))
        .collect()
}

fn pointer<'v>(root: &'v Value, path: &[String]) -> Option<&'v Value> {
    root.pointer(&to_pointer(path))
}

fn pointer_mut<'v>(root: &'v mut Value, path: &[String]) -> Option<&'v mut Value> {
    root.pointer_mut(&to_pointer(path))
}

/// Removes the value at `path` (a map entry, or a list element); whether it was there.
fn remove(root: &mut Value, path: &[String]) -> bool {
    let Some((last, parent)) = path.split_last() else {
        return false;
    };
    match pointer_mut(root, parent) {
        Some(Value::Object(map)) => map.remove(last).is_some(),
        Some(Value::Array(items)) => match last.parse::<usize>() {
            Ok(i) if i < items.len() => {
                items.remove(i);
                true
            }
            _ => false,
        },
        _ => false,
    }
}

/// Adds `value` at `path` in a map; whether the map was there.
fn insert(root: &mut Value, path: &[String], value: &Value) -> bool {
    let Some((last, parent)) = path.split_last() else {
        return false;
    };
    match pointer_mut(root, parent) {
        Some(Value::Object(map)) => {
            map.insert(last.clone(), value.clone());
            true
        }
        _ => false,
    }
}
