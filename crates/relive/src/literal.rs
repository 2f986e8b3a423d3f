//! Tweakable literals (`#[relive_worker::tweak]`) as the host names them: which literal, its
//! new value, what the running build has, what a tweak changed.

use serde::Serialize;

/// Which tweakable literal: its table (crate, file relative to the crate's `Cargo.toml`, the
/// table's name in its marked item: `update`, `Player::step`, `SPEED`) and its index there.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct LiteralKey {
    /// The crate's package name.
    #[serde(rename = "crate")]
    pub krate: String,
    /// The file, relative to the crate's `Cargo.toml` (`src/lib.rs`).
    pub file: String,
    /// The table.
    pub item: String,
    /// The literal's index in the table, in source order.
    pub index: u32,
}

impl LiteralKey {
    /// What a user calls this literal (see [`LiteralKey::name_of`]); `alone`: the only
    /// literal of its table.
    pub fn name(&self, alone: bool) -> String {
        LiteralKey::name_of(&self.item, self.index as usize, alone)
    }

    /// What a user calls the literal `index` of `table` (messages, `cargo relive tweak`, the
    /// inspector): the const's name when the table is a const's and this is its only literal
    /// (`SPEED`), else the table and the place in it (`update#3`, `COLOR#1`).
    pub fn name_of(table: &str, index: usize, alone: bool) -> String {
        if alone && LiteralKey::is_const_table(table) {
            table.to_owned()
        } else {
            format!("{table}#{index}")
        }
    }

    /// Whether `table` is a const's (`SPEED`, `MAX_HP`), not a function's or a method's.
    pub fn is_const_table(table: &str) -> bool {
        !table.contains("::")
            && table
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    }
}

/// A literal's new value.
#[derive(Debug, Clone, PartialEq)]
pub enum LiteralValue {
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

/// A tweakable literal of the running build, as `Worker::tweakables` (and [`crate::StaticWorker::tweakables`]) list it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tweakable {
    /// Which.
    pub key: LiteralKey,
    /// `int`, `float`, `bool`, `char` or `str`.
    pub kind: String,
    /// Its line in the file (1-based).
    pub line: u32,
    /// Its column (1-based).
    pub column: u32,
    /// Its text in the source the build was made of.
    pub text: String,
    /// Whether a tweak set it (its value is no longer `text`).
    pub set: bool,
}

/// One literal a tweak changed, as the `tweaked` event reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TweakedLiteral {
    /// What the user calls it: a const's name, or its table and index (`update#3`).
    pub name: String,
    /// `file:line`, relative to the workspace.
    pub at: String,
    /// Its text before and after.
    pub old: String,
    /// See `old`.
    pub new: String,
}

/// The answer to [`Worker::write_literal`](crate::Worker): the literal set in the running game
/// and written into its source, or why not.
#[derive(Debug, Clone, PartialEq)]
pub struct LiteralWrite {
    /// The request's number, as `write_literal` returned it.
    pub id: u64,
    /// What was written (the literal's name, place, old and new text), or why nothing was.
    pub result: Result<TweakedLiteral, String>,
}
