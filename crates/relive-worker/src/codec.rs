//! The state codec: MessagePack with field names.
//!
//! Field names make the format self-describing, which is what lets a new version read an old
//! state with a field added (`#[serde(default)]`), removed (ignored) or renamed
//! (`#[serde(alias = "old")]`). The codec is the same in hot and static mode, so a snapshot
//! written by one reads in the other.

use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Encodes `value` the way relive carries state.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    encode_into(&mut out, value)?;
    Ok(out)
}

/// Encodes `value` into `writer`.
pub(crate) fn encode_into<W: std::io::Write, T: Serialize + ?Sized>(
    writer: &mut W,
    value: &T,
) -> Result<(), EncodeError> {
    rmp_serde::encode::write_named(writer, value).map_err(|e| EncodeError(e.to_string()))
}

/// Decodes bytes written by [`encode`] (by this version or any other).
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    rmp_serde::from_slice(bytes).map_err(|e| DecodeError(e.to_string()))
}

/// A state saved by some version of the worker, handed to `migrate`.
#[derive(Clone, Copy, Debug)]
pub struct OldState<'a> {
    bytes: &'a [u8],
    version: u32,
}

impl<'a> OldState<'a> {
    /// Wraps encoded state bytes saved by a worker that declared `version`.
    pub fn new(bytes: &'a [u8], version: u32) -> Self {
        OldState { bytes, version }
    }

    /// The state version the saving worker declared.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The encoded bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Decodes the old state as `T`: the old version's type, or any type that reads it
    /// (`serde_json::Value` works, if the worker depends on serde_json).
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, DecodeError> {
        decode(self.bytes)
    }
}

/// The state could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodeError(String);

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot encode the state: {}", self.0)
    }
}

impl std::error::Error for EncodeError {}

/// An old state could not be turned into the new state type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(String);

impl DecodeError {
    /// An error with the given message, for `migrate` functions.
    pub fn custom(message: impl fmt::Display) -> Self {
        DecodeError(message.to_string())
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DecodeError {}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Serialize, Deserialize, Debug, PartialEq, Default)]
    #[serde(default)]
    struct V1 {
        x: i32,
        name: String,
        gone: bool,
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq, Default)]
    #[serde(default)]
    struct V2 {
        x: i32,
        #[serde(alias = "name")]
        label: String,
        added: Vec<u8>,
    }

    #[test]
    fn old_state_reads_with_a_field_added_removed_and_renamed() {
        let bytes = encode(&V1 {
            x: 7,
            name: "hero".into(),
            gone: true,
        })
        .unwrap();
        let v2: V2 = OldState::new(&bytes, 1).decode().unwrap();
        assert_eq!(
            v2,
            V2 {
                x: 7,
                label: "hero".into(),
                added: vec![]
            }
        );
    }

    #[test]
    fn a_changed_field_type_is_a_decode_error() {
        #[derive(Deserialize, Debug)]
        #[allow(dead_code)]
        struct Bad {
            x: String,
        }
        let bytes = encode(&V1::default()).unwrap();
        let err = decode::<Bad>(&bytes).unwrap_err();
        assert!(!err.to_string().is_empty());
    }
}
