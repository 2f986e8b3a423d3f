//! Bulk numeric data in the state, carried as one block of bytes instead of element by element.
//!
//! A worker is a debug build, and serde's derived code for a `Vec<u64>` runs once per element at
//! opt-level 0: a 100 MB vector takes seconds to save and load at every reload. Marking the field
//!
//! ```
//! #[derive(Default, serde::Serialize, serde::Deserialize)]
//! pub struct State {
//!     #[serde(with = "relive_worker::bulk")]
//!     heights: Vec<f32>,
//! }
//! ```
//!
//! encodes it as one MessagePack `bin` value holding the elements' little-endian bytes, and
//! decodes it with one copy: the cost no longer depends on the build profile nor on the number of
//! elements, only on the bytes (see BENCHMARKS.md, "Large states").
//!
//! The element type must be a plain number ([`Plain`]: integers and floats), where every bit
//! pattern is a value. A saved block whose length is not a whole number of elements (the element
//! type changed from `u64` to `u32`, say) is a decode error: the reload is refused and the running
//! version keeps its state. In a JSON dump (`cargo relive state get`) the field shows as the array
//! of its bytes, and an array of bytes is what `state set` takes back.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserializer, Serializer};

mod sealed {
    pub trait Sealed {}
}

/// A number type whose values are plain bytes: no padding, no invalid bit patterns, no pointers.
/// Implemented for the integer and float types; it cannot be implemented outside this crate.
pub trait Plain: Copy + Default + sealed::Sealed + 'static {
    /// The value with its bytes in little-endian order (the identity on x86_64).
    fn to_le(self) -> Self;
}

macro_rules! plain_int {
    ($($t:ty),*) => {$(
        impl sealed::Sealed for $t {}
        impl Plain for $t {
            #[inline]
            fn to_le(self) -> Self {
                <$t>::to_le(self)
            }
        }
    )*};
}

plain_int!(u8, u16, u32, u64, u128, i8, i16, i32, i64, i128);

impl sealed::Sealed for f32 {}
impl Plain for f32 {
    #[inline]
    fn to_le(self) -> Self {
        f32::from_bits(self.to_bits().to_le())
    }
}

impl sealed::Sealed for f64 {}
impl Plain for f64 {
    #[inline]
    fn to_le(self) -> Self {
        f64::from_bits(self.to_bits().to_le())
    }
}

/// Serializes `values` as one block of little-endian bytes (`#[serde(with = "relive_worker::bulk")]`).
pub fn serialize<T: Plain, S: Serializer>(values: &[T], serializer: S) -> Result<S::Ok, S::Error> {
    if cfg!(target_endian = "little") {
        // SAFETY: `T: Plain` is an integer or float type: no padding, every byte of the slice is
        // initialized, and `size_of_val` bytes from its start are inside it.
        let bytes = unsafe {
            std::slice::from_raw_parts(values.as_ptr().cast::<u8>(), size_of_val(values))
        };
        serializer.serialize_bytes(bytes)
    } else {
        let swapped: Vec<T> = values.iter().map(|v| v.to_le()).collect();
        serialize(&swapped, serializer)
    }
}

/// Deserializes a block written by [`serialize`] (`#[serde(with = "relive_worker::bulk")]`).
pub fn deserialize<'de, T: Plain, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<T>, D::Error> {
    deserializer.deserialize_byte_buf(BulkVisitor(PhantomData))
}

struct BulkVisitor<T>(PhantomData<T>);

impl<'de, T: Plain> Visitor<'de> for BulkVisitor<T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the bytes of {} values (a field marked `relive_worker::bulk`)",
            std::any::type_name::<T>()
        )
    }

    fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<Vec<T>, E> {
        from_bytes(bytes)
    }

    fn visit_byte_buf<E: de::Error>(self, bytes: Vec<u8>) -> Result<Vec<T>, E> {
        from_bytes(&bytes)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        // An array of bytes: what a JSON dump of the field holds.
        let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(b) = seq.next_element::<u8>()? {
            bytes.push(b);
        }
        from_bytes(&bytes)
    }
}

fn from_bytes<T: Plain, E: de::Error>(bytes: &[u8]) -> Result<Vec<T>, E> {
    let size = size_of::<T>();
    if bytes.len() % size != 0 {
        return Err(E::custom(format_args!(
            "{} bytes are not a whole number of {} values ({size} bytes each): \
             did the element type of a `relive_worker::bulk` field change?",
            bytes.len(),
            std::any::type_name::<T>(),
        )));
    }
    let len = bytes.len() / size;
    let mut values: Vec<T> = Vec::with_capacity(len);
    // SAFETY: the vector has room for `len` values, `len * size == bytes.len()` bytes, and does
    // not overlap `bytes`; `T: Plain` accepts any bit pattern, so after the copy all `len` values
    // are initialized and valid.
    unsafe {
        std::ptr::copy_nonoverlapping(
            bytes.as_ptr(),
            values.as_mut_ptr().cast::<u8>(),
            bytes.len(),
        );
        values.set_len(len);
    }
    if cfg!(target_endian = "big") {
        for v in &mut values {
            *v = v.to_le();
        }
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    use crate::codec::{decode, encode};

    #[derive(Serialize, Deserialize, Debug, PartialEq, Default)]
    struct Bulky {
        #[serde(with = "crate::bulk")]
        words: Vec<u64>,
        #[serde(with = "crate::bulk")]
        floats: Vec<f32>,
        #[serde(with = "crate::bulk")]
        empty: Vec<i16>,
        name: String,
    }

    fn sample() -> Bulky {
        Bulky {
            words: (0..1000u64)
                .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
                .collect(),
            floats: vec![1.5, -0.0, f32::MAX, f32::MIN_POSITIVE],
            empty: Vec::new(),
            name: "bulk".into(),
        }
    }

    #[test]
    fn bulk_fields_round_trip_as_one_block_of_bytes() {
        let state = sample();
        let bytes = encode(&state).unwrap();
        // 8000 bytes of words in one `bin 16` value, not 1000 MessagePack integers.
        assert!(bytes.len() < 8000 + 16 + 100, "{} bytes", bytes.len());
        let back: Bulky = decode(&bytes).unwrap();
        assert_eq!(back, state);
    }

    #[test]
    fn a_changed_element_type_is_a_decode_error_that_says_so() {
        #[derive(Serialize)]
        struct Old {
            #[serde(with = "crate::bulk")]
            words: Vec<u16>,
        }
        #[derive(Deserialize, Debug)]
        #[allow(dead_code)]
        struct New {
            #[serde(with = "crate::bulk")]
            words: Vec<u64>,
        }
        let bytes = encode(&Old {
            words: vec![1, 2, 3],
        })
        .unwrap();
        let err = decode::<New>(&bytes).unwrap_err().to_string();
        assert!(
            err.contains("6 bytes are not a whole number of u64 values"),
            "{err}"
        );
    }

    #[test]
    fn a_bulk_field_also_reads_from_an_array_of_its_bytes() {
        // What `cargo relive state set` hands the worker: JSON arrays become MessagePack arrays.
        #[derive(Serialize)]
        struct AsJson {
            words: Vec<u8>,
            floats: Vec<u8>,
            empty: Vec<u8>,
            name: &'static str,
        }
        let as_json = AsJson {
            words: 7u64.to_le_bytes().to_vec(),
            floats: 1.5f32.to_le_bytes().to_vec(),
            empty: vec![],
            name: "x",
        };
        let back: Bulky = decode(&encode(&as_json).unwrap()).unwrap();
        assert_eq!(back.words, [7]);
        assert_eq!(back.floats, [1.5]);
    }
}
