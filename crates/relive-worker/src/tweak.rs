//! Tweakable literals at run time: what `#[relive_worker::tweak]` compiles a literal into. Not a
//! public API.
//!
//! Each body of a marked item has a [`Table`] (a `static` in the body): one [`Slot`] per
//! tweakable literal. A literal reads its slot: one relaxed load, and the literal itself while
//! the slot is empty. The host fills slots through the worker's `tweak` export, between frames;
//! a new version starts with empty slots (its literals are the source's). Every table also has
//! an [`Entry`] in the linker section `relive_tweaks`, so the worker finds them all without any
//! registration at run time: the section's bounds are `__start_relive_tweaks` and
//! `__stop_relive_tweaks`, which the linker defines (ELF, which is all relive runs on).
//!
//! A ship build (feature `static`) has none of it: the macros expand to the literal itself.

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

/// A slot holds no value: the literal reads as compiled.
const EMPTY: u8 = 0;
const INT: u8 = 1;
const UINT: u8 = 2;
const FLOAT: u8 = 3;
const BOOL: u8 = 4;
const CHAR: u8 = 5;
const STR: u8 = 6;

/// One tweakable literal's value, if the host set one.
pub struct Slot {
    state: AtomicU8,
    word: AtomicU64,
}

impl Slot {
    /// An empty slot.
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        Slot {
            state: AtomicU8::new(EMPTY),
            word: AtomicU64::new(0),
        }
    }
}

/// Where a literal is and what it is, for listing.
pub struct SiteInfo {
    /// `int`, `float`, `bool`, `char` or `str`.
    pub kind: &'static str,
    /// Its line (1-based).
    pub line: u32,
    /// Its column (1-based).
    pub column: u32,
    /// Its text in the source.
    pub text: &'static str,
}

/// A table's identity: the key the host addresses it by, and its literals.
pub struct TableInfo {
    /// The crate (`CARGO_PKG_NAME`).
    pub krate: &'static str,
    /// The file, relative to the crate's `Cargo.toml`.
    pub file: &'static str,
    /// The table's name within its marked item (`update`, `Player::step`, `SPEED`).
    pub item: &'static str,
    /// Its literals, by index.
    pub sites: &'static [SiteInfo],
}

/// The slots of one body.
pub struct Table<const N: usize> {
    /// What it is.
    pub info: TableInfo,
    /// Whether any slot is set: read once per call of the body, so that a literal whose table
    /// has no value set costs a test of a local (a debug build calls even an atomic load).
    any: std::sync::atomic::AtomicBool,
    /// One per literal.
    pub slots: [Slot; N],
}

impl<const N: usize> Table<N> {
    /// A table of empty slots.
    pub const fn new(info: TableInfo) -> Self {
        Table {
            info,
            any: std::sync::atomic::AtomicBool::new(false),
            slots: [const { Slot::new() }; N],
        }
    }

    /// Whether any of the table's slots holds a value.
    #[inline(always)]
    pub fn any(&self) -> bool {
        self.any.load(Ordering::Acquire)
    }

    /// Literal `i`: the value the host set, else `compiled`.
    #[inline(always)]
    pub fn get<T: Tweak>(&self, i: usize, compiled: T) -> T {
        let slot = &self.slots[i];
        match slot.state.load(Ordering::Relaxed) {
            EMPTY => compiled,
            state => T::from_slot(state, slot.word.load(Ordering::Relaxed)).unwrap_or(compiled),
        }
    }
}

/// A table, as the linker section lists it.
#[repr(C)]
pub struct Entry {
    info: &'static TableInfo,
    any: &'static std::sync::atomic::AtomicBool,
    slots: &'static [Slot],
}

impl Entry {
    /// The entry of `table`.
    pub const fn of<const N: usize>(table: &'static Table<N>) -> Entry {
        Entry {
            info: &table.info,
            any: &table.any,
            slots: &table.slots,
        }
    }
}

/// A literal's type: how a slot's word reads as it. An integer that does not fit keeps the
/// compiled value (the build that follows says why).
pub trait Tweak: Sized + Copy {
    /// The value in a slot, if the slot holds one of this type's kind.
    fn from_slot(state: u8, word: u64) -> Option<Self>;
}

macro_rules! ints {
    ($($t:ty)*) => {$(
        impl Tweak for $t {
            #[inline(always)]
            fn from_slot(state: u8, word: u64) -> Option<Self> {
                match state {
                    INT => <$t>::try_from(word as i64).ok(),
                    UINT => <$t>::try_from(word).ok(),
                    _ => None,
                }
            }
        }
    )*};
}
ints!(i8 i16 i32 i64 i128 isize u8 u16 u32 u64 u128 usize);

impl Tweak for f32 {
    #[inline(always)]
    fn from_slot(state: u8, word: u64) -> Option<Self> {
        (state == FLOAT).then(|| f64::from_bits(word) as f32)
    }
}

impl Tweak for f64 {
    #[inline(always)]
    fn from_slot(state: u8, word: u64) -> Option<Self> {
        (state == FLOAT).then(|| f64::from_bits(word))
    }
}

impl Tweak for bool {
    #[inline(always)]
    fn from_slot(state: u8, word: u64) -> Option<Self> {
        (state == BOOL).then_some(word != 0)
    }
}

impl Tweak for char {
    #[inline(always)]
    fn from_slot(state: u8, word: u64) -> Option<Self> {
        (state == CHAR)
            .then(|| char::from_u32(word as u32))
            .flatten()
    }
}

impl Tweak for &'static str {
    #[inline(always)]
    fn from_slot(state: u8, word: u64) -> Option<Self> {
        // SAFETY: a STR slot's word is always the address of a leaked `&'static str` written by
        // `set` (never freed), so it points at a valid `&'static str`.
        (state == STR).then(|| unsafe { *(word as usize as *const &'static str) })
    }
}

/// A value for a slot, as the host sends it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// An integer.
    Int(i128),
    /// A float.
    Float(f64),
    /// A bool.
    Bool(bool),
    /// A char.
    Char(char),
    /// A string.
    Str(String),
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Bool(_) => "bool",
            Value::Char(_) => "char",
            Value::Str(_) => "str",
        }
    }
}

#[cfg(not(feature = "static"))]
mod section {
    use super::{Entry, TableInfo};

    unsafe extern "C" {
        // Bytes, as the linker sees them: the entries are read through `entries`.
        #[link_name = "__start_relive_tweaks"]
        static START: u8;
        #[link_name = "__stop_relive_tweaks"]
        static STOP: u8;
    }

    static NO_SITES: TableInfo = TableInfo {
        krate: "",
        file: "",
        item: "",
        sites: &[],
    };

    /// One entry of relive-worker's own, so that the section exists in every worker.
    #[used]
    #[unsafe(link_section = "relive_tweaks")]
    static NONE: Entry = Entry {
        info: &NO_SITES,
        any: &NOT_ANY,
        slots: &[],
    };

    static NOT_ANY: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

    /// Every table of this library.
    pub(super) fn entries() -> &'static [Entry] {
        // Named, so that the object holding it is linked whenever this function is.
        let _ = &raw const NONE;
        let start = (&raw const START).cast::<Entry>();
        let stop = &raw const STOP;
        let len = (stop as usize - start as usize) / size_of::<Entry>();
        // SAFETY: the linker defines the two symbols around the `relive_tweaks` section of this
        // library, which holds only `Entry` statics (each `#[repr(C)]`, 8-aligned, a multiple
        // of 8 bytes: laid end to end), at least relive-worker's own `NONE`.
        unsafe { std::slice::from_raw_parts(start, len) }
    }
}

#[cfg(feature = "static")]
mod section {
    /// A ship build has no tables.
    pub(super) fn entries() -> &'static [super::Entry] {
        &[]
    }
}

/// One table as [`list`] shows it: crate, file, item, and per literal (kind, line, column,
/// text, whether the host set a value).
pub type Listed = (
    String,
    String,
    String,
    Vec<(String, u32, u32, String, bool)>,
);

/// Every table of this library with its literals.
pub fn list() -> Vec<Listed> {
    section::entries()
        .iter()
        .filter(|e| !e.info.sites.is_empty())
        .map(|e| {
            let sites = e
                .info
                .sites
                .iter()
                .zip(e.slots)
                .map(|(s, slot)| {
                    let set = slot.state.load(Ordering::Relaxed) != EMPTY;
                    (s.kind.to_owned(), s.line, s.column, s.text.to_owned(), set)
                })
                .collect();
            let i = e.info;
            (
                i.krate.to_owned(),
                i.file.to_owned(),
                i.item.to_owned(),
                sites,
            )
        })
        .collect()
}

/// Sets literal `index` of the table `item` of `file` in `krate` to `value`. The error says what
/// did not match (no such table, no such literal, another kind of literal there).
pub fn set(krate: &str, file: &str, item: &str, index: usize, value: &Value) -> Result<(), String> {
    let mut found = false;
    for entry in section::entries() {
        let info = entry.info;
        if info.krate != krate || info.file != file || info.item != item {
            continue;
        }
        let (Some(site), Some(slot)) = (info.sites.get(index), entry.slots.get(index)) else {
            return Err(format!(
                "`{item}` in {file} has {} tweakable literals, not {}",
                info.sites.len(),
                index + 1
            ));
        };
        if site.kind != value.kind() {
            return Err(format!(
                "literal {index} of `{item}` in {file} is {} ({}), not {}",
                site.kind,
                site.text,
                value.kind()
            ));
        }
        let (state, word) = match value {
            Value::Int(v) if *v < 0 => match i64::try_from(*v) {
                Ok(v) => (INT, v as u64),
                Err(_) => return Err(format!("{v} does not fit a 64-bit integer")),
            },
            Value::Int(v) => match u64::try_from(*v) {
                Ok(v) => (UINT, v),
                Err(_) => return Err(format!("{v} does not fit a 64-bit integer")),
            },
            Value::Float(v) => (FLOAT, v.to_bits()),
            Value::Bool(v) => (BOOL, u64::from(*v)),
            Value::Char(c) => (CHAR, u64::from(u32::from(*c))),
            // Leaked: a frame may still hold the string the slot had (this version's literals
            // are `&'static`), and each tweak leaks only the text typed.
            Value::Str(s) => {
                let text: &'static str = Box::leak(s.clone().into_boxed_str());
                let cell: &'static &'static str = Box::leak(Box::new(text));
                (STR, cell as *const &'static str as usize as u64)
            }
        };
        slot.word.store(word, Ordering::Relaxed);
        slot.state.store(state, Ordering::Release);
        entry.any.store(true, Ordering::Release);
        found = true;
    }
    if found {
        Ok(())
    } else {
        Err(format!(
            "this build of `{krate}` has no #[relive_worker::tweak] item `{item}` in {file}"
        ))
    }
}

/// Reads literal `i` of `$table`; in a ship build, the literal itself.
#[cfg(not(feature = "static"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __tweak_get {
    ($table:ident, $i:literal, $v:expr) => {
        $table.get($i, $v)
    };
}

/// Reads literal `i` of `$table`; in a ship build, the literal itself.
#[cfg(feature = "static")]
#[doc(hidden)]
#[macro_export]
macro_rules! __tweak_get {
    ($table:ident, $i:literal, $v:expr) => {
        $v
    };
}

/// Reads literal `i` of `$table` if `$any` (the body's entry read of [`Table::any`]); in a
/// ship build, the literal itself.
#[cfg(not(feature = "static"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __tweak_get_or {
    ($table:ident, $any:ident, $i:literal, $v:expr) => {
        if $any { $table.get($i, $v) } else { $v }
    };
}

/// Reads literal `i` of `$table` if `$any`; in a ship build, the literal itself.
#[cfg(feature = "static")]
#[doc(hidden)]
#[macro_export]
macro_rules! __tweak_get_or {
    ($table:ident, $any:ident, $i:literal, $v:expr) => {
        $v
    };
}

/// A tweakable const read by name: its literals' slots, or in a ship build the const itself.
#[cfg(not(feature = "static"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __tweak_const {
    ($name:ident) => {
        $name::__relive_get()
    };
}

/// A tweakable const read by name: its literals' slots, or in a ship build the const itself.
#[cfg(feature = "static")]
#[doc(hidden)]
#[macro_export]
macro_rules! __tweak_const {
    ($name:ident) => {
        $name
    };
}

/// Declares a body's table and lists it in the linker section; nothing in a ship build.
#[cfg(not(feature = "static"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __tweak_table {
    ($name:ident, $any:ident, $n:literal, $file:expr, $item:expr, [$(($kind:expr, $line:expr, $column:expr, $text:expr)),* $(,)?]) => {
        static $name: $crate::__tweak::Table<$n> = $crate::__tweak::Table::new($crate::__tweak::TableInfo {
            krate: ::core::env!("CARGO_PKG_NAME"),
            file: $file,
            item: $item,
            sites: &[$($crate::__tweak::SiteInfo { kind: $kind, line: $line, column: $column, text: $text }),*],
        });
        const _: () = {
            #[used]
            #[unsafe(link_section = "relive_tweaks")]
            static ENTRY: $crate::__tweak::Entry = $crate::__tweak::Entry::of(&$name);
        };
        #[allow(unused_variables)]
        let $any = $name.any();
    };
}

/// Declares a body's table and lists it in the linker section; nothing in a ship build.
#[cfg(feature = "static")]
#[doc(hidden)]
#[macro_export]
macro_rules! __tweak_table {
    ($($t:tt)*) => {};
}
