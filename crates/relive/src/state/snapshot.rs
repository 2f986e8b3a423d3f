//! Snapshots: the state as a file, in relive's binary format or as pretty JSON.
//!
//! Binary layout (little-endian): the 16-byte magic `RELIVE-SNAPSHOT\n`, `u32` format version
//! (1), `u32` state version, `u32` length and bytes of the state type's name, `u64` length and
//! bytes of the encoded state (MessagePack with field names), and a `u64` FNV-1a checksum of all
//! that precedes it. JSON layout: `{"relive_snapshot": 1, "state_type": …, "state_version": …,
//! "state": …}`. Both are written atomically: a temporary file in the same directory, `fsync`,
//! `rename`.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::Error;

const MAGIC: &[u8; 16] = b"RELIVE-SNAPSHOT\n";
const FORMAT_VERSION: u32 = 1;

/// The format of a snapshot file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// Compact and fast: relive's binary format.
    Binary,
    /// Pretty JSON, for people and tools (`jq`, nushell).
    Json,
}

/// A worker's state, taken out as bytes: what a reload carries and a snapshot file holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// `type_name` of the state type that saved it.
    pub state_type: String,
    /// The state version the saving worker declared.
    pub state_version: u32,
    /// The encoded state (MessagePack with field names).
    pub bytes: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct JsonSnapshot {
    relive_snapshot: u32,
    state_type: String,
    state_version: u32,
    state: serde_json::Value,
}

impl Snapshot {
    /// The state as a JSON value. Byte strings (`relive_worker::bulk` and `serde_bytes` fields)
    /// become arrays of numbers and map keys that are not strings become their JSON text, so
    /// every state has a JSON form; [`Snapshot::from_json`] reads the arrays back as bytes (a map
    /// with non-string keys does not read back: its keys come back as strings).
    pub fn to_json(&self) -> Result<serde_json::Value, Error> {
        relive_worker::decode::<Json>(&self.bytes)
            .map(|json| json.0)
            .map_err(|e| Error::BadValue {
                message: e.to_string(),
            })
    }

    /// A snapshot holding `value`, for a state of `state_type` at `state_version`.
    pub fn from_json(
        state_type: &str,
        state_version: u32,
        value: &serde_json::Value,
    ) -> Result<Snapshot, Error> {
        let bytes = relive_worker::encode(value).map_err(|e| Error::BadValue {
            message: e.to_string(),
        })?;
        Ok(Snapshot {
            state_type: state_type.to_owned(),
            state_version,
            bytes,
        })
    }

    /// The file contents in `format`.
    pub fn to_bytes(&self, format: Format) -> Result<Vec<u8>, Error> {
        match format {
            Format::Binary => {
                let mut out = Vec::with_capacity(self.bytes.len() + 64 + self.state_type.len());
                out.extend_from_slice(MAGIC);
                out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
                out.extend_from_slice(&self.state_version.to_le_bytes());
                out.extend_from_slice(&(self.state_type.len() as u32).to_le_bytes());
                out.extend_from_slice(self.state_type.as_bytes());
                out.extend_from_slice(&(self.bytes.len() as u64).to_le_bytes());
                out.extend_from_slice(&self.bytes);
                let sum = checksum(&out);
                out.extend_from_slice(&sum.to_le_bytes());
                Ok(out)
            }
            Format::Json => {
                let doc = JsonSnapshot {
                    relive_snapshot: FORMAT_VERSION,
                    state_type: self.state_type.clone(),
                    state_version: self.state_version,
                    state: self.to_json()?,
                };
                let mut out = serde_json::to_vec_pretty(&doc).map_err(|e| Error::BadValue {
                    message: e.to_string(),
                })?;
                out.push(b'\n');
                Ok(out)
            }
        }
    }

    /// Parses a snapshot file's contents (either format); `path` is for the error.
    pub fn from_bytes(path: &Path, data: &[u8]) -> Result<Snapshot, Error> {
        let bad = |reason: String| Error::BadSnapshot {
            path: path.to_owned(),
            reason,
        };
        if data.starts_with(MAGIC) {
            return parse_binary(data).map_err(bad);
        }
        if data.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
            let doc: JsonSnapshot = serde_json::from_slice(data)
                .map_err(|e| bad(format!("invalid JSON snapshot: {e}")))?;
            if doc.relive_snapshot != FORMAT_VERSION {
                return Err(bad(format!(
                    "unknown snapshot format {}",
                    doc.relive_snapshot
                )));
            }
            return Snapshot::from_json(&doc.state_type, doc.state_version, &doc.state);
        }
        Err(bad("neither a binary nor a JSON relive snapshot".to_owned()))
    }

    /// Writes the snapshot to `path` atomically.
    pub fn write(&self, path: &Path, format: Format) -> Result<(), Error> {
        write_atomic(path, &self.to_bytes(format)?, true)
    }

    /// Reads a snapshot file of either format.
    pub fn read(path: &Path) -> Result<Snapshot, Error> {
        let data = std::fs::read(path).map_err(|e| Error::io("cannot read snapshot", path, e))?;
        Snapshot::from_bytes(path, &data)
    }
}

fn checksum(bytes: &[u8]) -> u64 {
    relive_worker::__private::fnv1a(relive_worker::__private::FNV_OFFSET, bytes)
}

/// Reads fields off the front of a byte slice.
struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|end| *end <= self.data.len())
            .ok_or_else(|| {
                format!(
                    "truncated: {} bytes, needs at least {}",
                    self.data.len(),
                    self.at.saturating_add(n)
                )
            })?;
        let out = &self.data[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, String> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(b))
    }
}

fn parse_binary(data: &[u8]) -> Result<Snapshot, String> {
    let mut r = Reader {
        data,
        at: MAGIC.len(),
    };
    let format = r.u32()?;
    if format != FORMAT_VERSION {
        return Err(format!("unknown snapshot format {format}"));
    }
    let state_version = r.u32()?;
    let name_len = r.u32()? as usize;
    let state_type = String::from_utf8(r.take(name_len)?.to_vec())
        .map_err(|_| "state type is not UTF-8".to_owned())?;
    let len = usize::try_from(r.u64()?).map_err(|_| "state too large".to_owned())?;
    let bytes = r.take(len)?.to_vec();
    let body_end = r.at;
    if r.u64()? != checksum(&data[..body_end]) {
        return Err("checksum mismatch: the file is corrupted".to_owned());
    }
    if r.at != data.len() {
        return Err(format!(
            "{} unexpected bytes after the snapshot",
            data.len() - r.at
        ));
    }
    Ok(Snapshot {
        state_type,
        state_version,
        bytes,
    })
}

/// Writes `data` to `path` so that a reader sees the old file or the new one, never a mix.
/// `durable` also `fsync`s, so that the file survives a machine crash, not only a process crash.
pub(crate) fn write_atomic(path: &Path, data: &[u8], durable: bool) -> Result<(), Error> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        // A fresh file, never one a link planted at the temporary name points to: remove what is
        // there (a link itself, not its target), then create exclusively.
        let _ = std::fs::remove_file(&tmp);
        let mut file = {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?
        };
        file.write_all(data)?;
        if durable {
            file.sync_all()?;
        }
        std::fs::rename(&tmp, path)?;
        if durable && let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io("cannot write snapshot", path, e)
    })
}

/// A state value read as JSON: what `serde_json::Value` reads, plus byte strings and non-string
/// map keys, which MessagePack has and JSON does not.
struct Json(serde_json::Value);

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Json, D::Error> {
        deserializer.deserialize_any(JsonVisitor).map(Json)
    }
}

struct JsonVisitor;

impl<'de> serde::de::Visitor<'de> for JsonVisitor {
    type Value = serde_json::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a state value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        // NaN and the infinities have no JSON form: null, as serde_json writes them.
        Ok(serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, Into::into))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_bytes<E>(self, v: &[u8]) -> Result<Self::Value, E> {
        Ok(v.iter().map(|&b| serde_json::Value::from(b)).collect())
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        Json::deserialize(d).map(|json| json.0)
    }

    fn visit_newtype_struct<D: serde::Deserializer<'de>>(
        self,
        d: D,
    ) -> Result<Self::Value, D::Error> {
        Json::deserialize(d).map(|json| json.0)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(Json(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(items.into())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some((Json(key), Json(value))) = map.next_entry()? {
            let key = match key {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            object.insert(key, value);
        }
        Ok(object.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Snapshot {
        Snapshot::from_json(
            "game::State",
            3,
            &serde_json::json!({"x": 1.5, "name": "hero", "items": [1, 2]}),
        )
        .unwrap()
    }

    #[test]
    fn snapshot_round_trips_in_both_formats() {
        let dir = tempfile::tempdir().unwrap();
        for format in [Format::Binary, Format::Json] {
            let path = dir.path().join("s");
            sample().write(&path, format).unwrap();
            assert_eq!(Snapshot::read(&path).unwrap(), sample());
        }
    }

    #[test]
    fn every_truncation_and_a_flipped_byte_of_a_binary_snapshot_are_refused() {
        let bytes = sample().to_bytes(Format::Binary).unwrap();
        let path = Path::new("s.bin");
        for len in 0..bytes.len() {
            assert!(
                Snapshot::from_bytes(path, &bytes[..len]).is_err(),
                "accepted {len} bytes"
            );
        }
        for i in MAGIC.len()..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x40;
            let err = Snapshot::from_bytes(path, &bad).unwrap_err();
            assert!(matches!(err, Error::BadSnapshot { .. }), "byte {i}: {err}");
        }
    }

    #[test]
    fn json_snapshot_is_pretty_and_names_its_state() {
        let text = String::from_utf8(sample().to_bytes(Format::Json).unwrap()).unwrap();
        assert!(
            text.contains("\n  \"state_type\": \"game::State\""),
            "{text}"
        );
        assert!(text.contains("\"name\": \"hero\""), "{text}");
    }

    #[test]
    fn bytes_and_integer_keys_have_a_json_form_and_bulk_fields_read_back_from_it() {
        #[derive(Serialize, Deserialize, Debug, PartialEq)]
        struct State {
            #[serde(with = "relive_worker::bulk")]
            heights: Vec<u16>,
            by_id: std::collections::BTreeMap<u32, String>,
            nothing: Option<f64>,
        }
        let state = State {
            heights: vec![1, 256, 65535],
            by_id: [(7, "seven".to_owned())].into(),
            nothing: None,
        };
        let snapshot = Snapshot {
            state_type: "game::State".into(),
            state_version: 0,
            bytes: relive_worker::encode(&state).unwrap(),
        };
        let json = snapshot.to_json().unwrap();
        // A bulk field: [its element type, [its bytes]].
        assert!(json["heights"][0].is_u64(), "{json}");
        assert_eq!(
            json["heights"][1],
            serde_json::json!([1, 0, 0, 1, 255, 255])
        );
        assert_eq!(json["by_id"], serde_json::json!({"7": "seven"}));
        assert_eq!(json["nothing"], serde_json::Value::Null);
        // `state set` of the bytes array: the bulk field decodes from it.
        let mut edited = json.clone();
        edited["heights"][1] = serde_json::json!([2, 0]);
        edited["by_id"] = serde_json::json!({});
        let back = Snapshot::from_json("game::State", 0, &edited).unwrap();
        let back: State = relive_worker::decode(&back.bytes).unwrap();
        assert_eq!(back.heights, [2]);
    }

    #[test]
    fn failed_write_leaves_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        sample().write(&path, Format::Binary).unwrap();
        let before = std::fs::read(&path).unwrap();
        // A directory where the temp file would go makes the write fail.
        let blocker = dir.path().join(format!(".s.tmp-{}", std::process::id()));
        std::fs::create_dir(&blocker).unwrap();
        assert!(
            Snapshot::from_json("x", 0, &serde_json::json!(1))
                .unwrap()
                .write(&path, Format::Binary)
                .is_err()
        );
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }
}
