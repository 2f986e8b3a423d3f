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
//! encodes it as a pair: a number describing the element type, and one MessagePack `bin` value
//! holding the elements' little-endian bytes. It decodes with one copy: the cost no longer depends
//! on the build profile nor on the number of elements, only on the bytes (see BENCHMARKS.md,
//! "Large states").
//!
//! The element type must be a plain number or an array of them ([`Plain`]: integers, floats,
//! `[f32; 3]`), where every bit pattern is a value. A block saved with another element type (`u64`
//! read as `u32`, `[f32; 3]` as `[f32; 2]`) is a decode error that names both: the reload is
//! refused and the running version keeps its state; convert it in `migrate`. In a JSON dump
//! (`cargo relive state get`) the field shows as `[type, [bytes…]]`, which `state set` takes back.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, SeqAccess, Visitor};
use serde::ser::SerializeTuple;
use serde::{Deserializer, Serialize, Serializer};

mod sealed {
    pub trait Sealed {}
}

/// A type whose values are plain bytes: no padding, no invalid bit patterns, no pointers.
/// Implemented for the integer and float types and arrays of them (`[f32; 3]` for a position);
/// it cannot be implemented outside this crate.
pub trait Plain: Copy + sealed::Sealed + 'static {
    /// 1 for unsigned integers, 2 for signed ones, 3 for floats.
    #[doc(hidden)]
    const KIND: u8;
    /// The size of one number in bytes.
    #[doc(hidden)]
    const NUMBER_SIZE: u8;
    /// How many numbers one value holds (`N` for `[T; N]`).
    #[doc(hidden)]
    const LANES: u32;
    /// The value with its bytes in little-endian order (the identity on x86_64).
    fn to_le(self) -> Self;
}

macro_rules! plain_number {
    ($kind:expr, $($t:ty),*) => {$(
        impl sealed::Sealed for $t {}
        impl Plain for $t {
            const KIND: u8 = $kind;
            const NUMBER_SIZE: u8 = size_of::<$t>() as u8;
            const LANES: u32 = 1;
            #[inline]
            fn to_le(self) -> Self {
                <$t>::from_le_bytes(self.to_ne_bytes())
            }
        }
    )*};
}

plain_number!(1, u8, u16, u32, u64, u128);
plain_number!(2, i8, i16, i32, i64, i128);
plain_number!(3, f32, f64);

impl<T: Plain, const N: usize> sealed::Sealed for [T; N] {}
impl<T: Plain, const N: usize> Plain for [T; N] {
    const KIND: u8 = T::KIND;
    const NUMBER_SIZE: u8 = T::NUMBER_SIZE;
    const LANES: u32 = T::LANES * N as u32;
    #[inline]
    fn to_le(self) -> Self {
        self.map(Plain::to_le)
    }
}

/// The element type as one number: kind, number size and lanes.
fn shape<T: Plain>() -> u64 {
    u64::from(T::KIND) << 40 | u64::from(T::NUMBER_SIZE) << 32 | u64::from(T::LANES)
}

/// A shape as Rust spells it: `u64`, `[f32; 3]`.
fn describe(shape: u64) -> String {
    let (kind, size, lanes) = ((shape >> 40) & 0xff, (shape >> 32) & 0xff, shape as u32);
    let number = match kind {
        1 => format!("u{}", size * 8),
        2 => format!("i{}", size * 8),
        3 => format!("f{}", size * 8),
        _ => format!("an unknown element type ({shape:#x})"),
    };
    if lanes == 1 {
        number
    } else {
        format!("[{number}; {lanes}]")
    }
}

/// Serializes `values` as `(element type, one block of little-endian bytes)`
/// (`#[serde(with = "relive_worker::bulk")]`).
pub fn serialize<T: Plain, S: Serializer>(values: &[T], serializer: S) -> Result<S::Ok, S::Error> {
    let mut pair = serializer.serialize_tuple(2)?;
    pair.serialize_element(&shape::<T>())?;
    pair.serialize_element(&Block(values))?;
    pair.end()
}

/// The elements' bytes, serialized as one byte string.
struct Block<'a, T>(&'a [T]);

impl<T: Plain> Serialize for Block<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if cfg!(target_endian = "little") {
            // SAFETY: `T: Plain` is a number type or an array of one: no padding, every byte of
            // the slice is initialized, and `size_of_val` bytes from its start are inside it.
            let bytes = unsafe {
                std::slice::from_raw_parts(self.0.as_ptr().cast::<u8>(), size_of_val(self.0))
            };
            serializer.serialize_bytes(bytes)
        } else {
            let swapped: Vec<T> = self.0.iter().map(|v| v.to_le()).collect();
            Block(&swapped).serialize(serializer)
        }
    }
}

/// Deserializes what [`serialize`] wrote (`#[serde(with = "relive_worker::bulk")]`).
pub fn deserialize<'de, T: Plain, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<T>, D::Error> {
    deserializer.deserialize_tuple(2, PairVisitor(PhantomData))
}

struct PairVisitor<T>(PhantomData<T>);

impl<'de, T: Plain> Visitor<'de> for PairVisitor<T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[element type, bytes] of {} values (a field marked `relive_worker::bulk`)",
            describe(shape::<T>())
        )
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let saved: u64 = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(0, &self))?;
        if saved != shape::<T>() {
            return Err(de::Error::custom(format_args!(
                "a `relive_worker::bulk` field was saved as {} and is now {}: convert it in \
                 `migrate` (or rename the field to start it afresh)",
                describe(saved),
                describe(shape::<T>()),
            )));
        }
        seq.next_element_seed(BlockSeed(PhantomData))?
            .ok_or_else(|| de::Error::invalid_length(1, &self))
    }
}

/// Reads the block straight into a `Vec<T>`.
struct BlockSeed<T>(PhantomData<T>);

impl<'de, T: Plain> DeserializeSeed<'de> for BlockSeed<T> {
    type Value = Vec<T>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Vec<T>, D::Error> {
        deserializer.deserialize_byte_buf(self)
    }
}

impl<'de, T: Plain> Visitor<'de> for BlockSeed<T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the bytes of {} values", describe(shape::<T>()))
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
    if size == 0 || !bytes.len().is_multiple_of(size) {
        return Err(E::custom(format_args!(
            "{} bytes are not a whole number of {} values ({size} bytes each)",
            bytes.len(),
            describe(shape::<T>()),
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
        positions: Vec<[f32; 3]>,
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
            positions: vec![[1.0, 2.0, 3.0], [-4.5, 0.25, 1e9]],
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
        assert!(bytes.len() < 8000 + 24 + 16 + 120, "{} bytes", bytes.len());
        let back: Bulky = decode(&bytes).unwrap();
        assert_eq!(back, state);
    }

    #[test]
    fn a_changed_element_type_is_a_decode_error_that_names_both_even_when_the_bytes_would_fit() {
        #[derive(Serialize)]
        struct Old {
            #[serde(with = "crate::bulk")]
            words: Vec<u64>,
            #[serde(with = "crate::bulk")]
            points: Vec<[f32; 3]>,
        }
        #[derive(Deserialize, Debug)]
        #[allow(dead_code)]
        struct Narrower {
            #[serde(with = "crate::bulk")]
            words: Vec<u32>,
        }
        #[derive(Deserialize, Debug)]
        #[allow(dead_code)]
        struct Flatter {
            #[serde(with = "crate::bulk")]
            points: Vec<[f32; 2]>,
        }
        #[derive(Deserialize, Debug)]
        #[allow(dead_code)]
        struct Signed {
            #[serde(with = "crate::bulk")]
            words: Vec<i64>,
        }
        // 16 bytes of `u64`s would read as four `u32`s, 24 bytes of `[f32; 3]` as three
        // `[f32; 2]`, any `u64` as an `i64`: the element type saved with them refuses each.
        let bytes = encode(&Old {
            words: vec![1, 2],
            points: vec![[1.0; 3], [2.0; 3]],
        })
        .unwrap();
        let err = decode::<Narrower>(&bytes).unwrap_err().to_string();
        assert!(err.contains("saved as u64 and is now u32"), "{err}");
        let err = decode::<Flatter>(&bytes).unwrap_err().to_string();
        assert!(
            err.contains("saved as [f32; 3] and is now [f32; 2]"),
            "{err}"
        );
        let err = decode::<Signed>(&bytes).unwrap_err().to_string();
        assert!(err.contains("saved as u64 and is now i64"), "{err}");
    }

    #[test]
    fn a_bulk_field_also_reads_from_an_array_of_its_bytes() {
        // What `cargo relive state set` hands the worker: JSON arrays become MessagePack arrays.
        #[derive(Serialize)]
        struct AsJson {
            positions: (u64, Vec<u8>),
            words: (u64, Vec<u8>),
            floats: (u64, Vec<u8>),
            empty: (u64, Vec<u8>),
            name: &'static str,
        }
        use super::{Plain, shape};
        fn tagged<T: Plain>(bytes: Vec<u8>) -> (u64, Vec<u8>) {
            (shape::<T>(), bytes)
        }
        let as_json = AsJson {
            positions: tagged::<[f32; 3]>(
                [0.5f32, 1.5, 2.5]
                    .iter()
                    .flat_map(|f| f.to_le_bytes())
                    .collect(),
            ),
            words: tagged::<u64>(7u64.to_le_bytes().to_vec()),
            floats: tagged::<f32>(1.5f32.to_le_bytes().to_vec()),
            empty: tagged::<i16>(vec![]),
            name: "x",
        };
        let back: Bulky = decode(&encode(&as_json).unwrap()).unwrap();
        assert_eq!(back.positions, [[0.5, 1.5, 2.5]]);
        assert_eq!(back.words, [7]);
        assert_eq!(back.floats, [1.5]);
    }
}
