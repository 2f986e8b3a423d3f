//! The state as the panel sees it: a JSON tree (the worker's own serde output) addressed by JSON
//! pointers, with what the panel needs to know about its values: which nodes a filter keeps,
//! which values look like a colour, how a number is edited. No egui here: this is the part that
//! is the same for every front end, and it is unit-tested on its own.

use serde_json::Value;

/// The JSON pointer of `key` inside the node at `parent` (RFC 6901: `~` is `~0`, `/` is `~1`).
pub fn child_pointer(parent: &str, key: &str) -> String {
    let mut out = String::with_capacity(parent.len() + key.len() + 1);
    out.push_str(parent);
    out.push('/');
    for c in key.chars() {
        match c {
            '~' => out.push_str("~0"),
            '/' => out.push_str("~1"),
            c => out.push(c),
        }
    }
    out
}

/// The last segment of a pointer, unescaped: the field's name (`speed` for `/player/speed`).
pub fn last_key(pointer: &str) -> String {
    let last = pointer.rsplit('/').next().unwrap_or("");
    last.replace("~1", "/").replace("~0", "~")
}

/// The pointer as a user reads it: `player.speed`, `enemies[3].hp`, `(state)` for the root.
pub fn display_path(pointer: &str) -> String {
    if pointer.is_empty() {
        return "(state)".to_owned();
    }
    let mut out = String::new();
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{segment}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&segment);
        }
    }
    out
}

/// The nodes a filter keeps: the ones whose path contains it (ignoring case), every node under
/// them, and every ancestor of them, so a match is always seen where it sits in the tree.
#[derive(Debug, Default)]
pub struct Filter {
    needle: String,
    /// The pointers kept, sorted (for a binary search per shown node).
    kept: Vec<String>,
    /// Matches found, for the panel ("3 matches").
    pub matches: usize,
}

impl Filter {
    /// The nodes of `root` that `needle` keeps; an empty needle keeps everything.
    pub fn new(root: &Value, needle: &str) -> Filter {
        let needle = needle.trim().to_lowercase();
        let mut filter = Filter {
            needle,
            kept: Vec::new(),
            matches: 0,
        };
        if !filter.needle.is_empty() {
            filter.walk(root, "", false);
            filter.kept.sort();
            filter.kept.dedup();
        }
        filter
    }

    /// Whether the filter keeps every node.
    pub fn is_empty(&self) -> bool {
        self.needle.is_empty()
    }

    /// Whether the node at `pointer` is shown.
    pub fn keeps(&self, pointer: &str) -> bool {
        self.is_empty()
            || self
                .kept
                .binary_search_by(|p| p.as_str().cmp(pointer))
                .is_ok()
    }

    /// Walks `value` at `pointer`; `inside` when an ancestor matched. Whether anything at or
    /// under `pointer` is kept.
    fn walk(&mut self, value: &Value, pointer: &str, inside: bool) -> bool {
        let here =
            !pointer.is_empty() && display_path(pointer).to_lowercase().contains(&self.needle);
        if here {
            self.matches += 1;
        }
        let mut any = here || inside;
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    any |= self.walk(child, &child_pointer(pointer, key), here || inside);
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    any |= self.walk(
                        child,
                        &child_pointer(pointer, &i.to_string()),
                        here || inside,
                    );
                }
            }
            _ => {}
        }
        if any {
            self.kept.push(pointer.to_owned());
        }
        any
    }
}

/// How a colour is laid out in the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorShape {
    /// `{"r":…,"g":…,"b":…,"a":…}`, macroquad's `Color` (and most engines').
    Fields,
    /// `[r, g, b, a]` (or `[r, g, b]`) floats, in a field whose name says colour.
    Array,
}

/// Whether the value at a field named `key` looks like a colour: macroquad's `Color` (fields
/// `r`, `g`, `b`, `a`, numbers), or three or four numbers in 0..=1 under a name with `color` or
/// `colour` in it (`[f32; 4]` named `color`, `tint_colour`, …).
pub fn color_shape(key: &str, value: &Value) -> Option<ColorShape> {
    let unit = |v: &Value| v.as_f64().is_some_and(|x| (0.0..=1.0).contains(&x));
    match value {
        Value::Object(map)
            if map.len() == 4
                && ["r", "g", "b", "a"]
                    .iter()
                    .all(|k| map.get(*k).is_some_and(Value::is_number)) =>
        {
            Some(ColorShape::Fields)
        }
        Value::Array(items) if (3..=4).contains(&items.len()) && items.iter().all(unit) => {
            let key = key.to_lowercase();
            (key.contains("color") || key.contains("colour")).then_some(ColorShape::Array)
        }
        _ => None,
    }
}

/// The colour's channels, `[r, g, b, a]` in 0..=1 (alpha 1 when there is none).
pub fn color_of(value: &Value, shape: ColorShape) -> [f32; 4] {
    let get =
        |v: Option<&Value>, default: f32| v.and_then(Value::as_f64).map_or(default, |x| x as f32);
    match shape {
        ColorShape::Fields => [
            get(value.get("r"), 0.0),
            get(value.get("g"), 0.0),
            get(value.get("b"), 0.0),
            get(value.get("a"), 1.0),
        ],
        ColorShape::Array => [
            get(value.get(0), 0.0),
            get(value.get(1), 0.0),
            get(value.get(2), 0.0),
            get(value.get(3), 1.0),
        ],
    }
}

/// `rgba` written back in the shape it was read from (an alpha-less array stays alpha-less).
pub fn color_value(rgba: [f32; 4], shape: ColorShape, old: &Value) -> Value {
    // Rounded to what an f32 channel holds, so `0.1` stays `0.1` and not `0.10000000149011612`.
    let channel = |x: f32| Value::from(round_f32(x));
    match shape {
        ColorShape::Fields => serde_json::json!({
            "r": channel(rgba[0]),
            "g": channel(rgba[1]),
            "b": channel(rgba[2]),
            "a": channel(rgba[3]),
        }),
        ColorShape::Array => {
            let n = old.as_array().map_or(4, Vec::len);
            Value::Array(rgba[..n].iter().map(|x| channel(*x)).collect())
        }
    }
}

/// An f32 as the shortest decimal that reads back as the same f32, as an f64.
pub fn round_f32(x: f32) -> f64 {
    format!("{x}").parse().unwrap_or(f64::from(x))
}

/// How a number is edited: an integer stays an integer (and unsigned stays unsigned); a float
/// keeps its precision.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    /// A value that was unsigned (`u8`…`u64`, `usize`): it cannot go below 0.
    Unsigned(u64),
    /// A negative integer: a signed type.
    Signed(i64),
    /// A float.
    Float(f64),
}

impl Number {
    /// The number `value` holds, if it is one.
    pub fn of(value: &Value) -> Option<Number> {
        if let Some(u) = value.as_u64() {
            Some(Number::Unsigned(u))
        } else if let Some(i) = value.as_i64() {
            Some(Number::Signed(i))
        } else {
            value.as_f64().map(Number::Float)
        }
    }

    /// The number as a float, for plots and sliders.
    pub fn as_f64(self) -> f64 {
        match self {
            Number::Unsigned(u) => u as f64,
            Number::Signed(i) => i as f64,
            Number::Float(f) => f,
        }
    }
}

/// Whether `now` (the state after the game's frame) still holds the value the user `set`: a
/// float that came back within an f32's precision counts as kept.
pub fn still_holds(set: &Value, now: &Value) -> bool {
    match (set.as_f64(), now.as_f64()) {
        (Some(a), Some(b)) if set.is_f64() || now.is_f64() => {
            (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0)
        }
        _ => set == now,
    }
}

/// A short one-line preview of a node for a collapsed header: `{3 fields}`, `[12 items]`.
pub fn preview(value: &Value) -> String {
    match value {
        Value::Object(map) => match map.len() {
            1 => "{1 field}".to_owned(),
            n => format!("{{{n} fields}}"),
        },
        Value::Array(items) => match items.len() {
            1 => "[1 item]".to_owned(),
            n => format!("[{n} items]"),
        },
        other => other.to_string(),
    }
}

/// Every numeric leaf under `value`, as (pointer, number): what the plot menu offers.
pub fn numeric_leaves(value: &Value, pointer: &str, out: &mut Vec<String>, limit: usize) {
    if out.len() >= limit {
        return;
    }
    match value {
        Value::Number(_) => out.push(pointer.to_owned()),
        Value::Object(map) => {
            for (k, v) in map {
                numeric_leaves(v, &child_pointer(pointer, k), out, limit);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                numeric_leaves(v, &child_pointer(pointer, &i.to_string()), out, limit);
            }
        }
        _ => {}
    }
}

/// `text` without terminal colour codes (`ESC [ … m`): the compiler's rendered error as a
/// panel shows it.
pub fn without_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // A CSI sequence ends at its first letter.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_colours_leave_the_compiler_s_text() {
        assert_eq!(
            without_ansi("\u{1b}[0m\u{1b}[1m\u{1b}[38;5;9merror\u{1b}[0m: expected `;`"),
            "error: expected `;`"
        );
        assert_eq!(without_ansi("plain"), "plain");
    }
    use serde_json::json;

    #[test]
    fn pointers_escape_and_read_back_as_paths() {
        assert_eq!(child_pointer("/a", "b/c~d"), "/a/b~1c~0d");
        assert_eq!(last_key("/a/b~1c~0d"), "b/c~d");
        assert_eq!(display_path("/player/speed"), "player.speed");
        assert_eq!(display_path("/enemies/3/hp"), "enemies[3].hp");
        assert_eq!(display_path(""), "(state)");
        let state = json!({"a": {"b/c~d": 1}});
        assert_eq!(
            state.pointer(&child_pointer("/a", "b/c~d")),
            Some(&json!(1))
        );
    }

    #[test]
    fn a_filter_keeps_matches_their_ancestors_and_their_subtrees() {
        let state = json!({
            "player": {"pos": {"x": 1, "y": 2}, "speed": 3},
            "enemies": [{"hp": 1}, {"speed": 9}],
            "score": 4
        });
        let f = Filter::new(&state, "SPEED");
        assert_eq!(f.matches, 2);
        for kept in [
            "",
            "/player",
            "/player/speed",
            "/enemies",
            "/enemies/1",
            "/enemies/1/speed",
        ] {
            assert!(f.keeps(kept), "{kept} should be kept");
        }
        for gone in [
            "/score",
            "/player/pos",
            "/player/pos/x",
            "/enemies/0",
            "/enemies/0/hp",
        ] {
            assert!(!f.keeps(gone), "{gone} should be filtered out");
        }
        let f = Filter::new(&state, "pos");
        assert!(
            f.keeps("/player/pos/x"),
            "under a match everything is shown"
        );
        assert!(Filter::new(&state, "  ").keeps("/score"));
        assert_eq!(Filter::new(&state, "nothing").matches, 0);
    }

    #[test]
    fn colours_are_recognised_by_shape_and_name_and_written_back_in_their_shape() {
        let mq = json!({"r": 1.0, "g": 0.5, "b": 0.0, "a": 1.0});
        assert_eq!(color_shape("anything", &mq), Some(ColorShape::Fields));
        assert_eq!(color_of(&mq, ColorShape::Fields), [1.0, 0.5, 0.0, 1.0]);
        let arr = json!([0.1, 0.2, 0.3, 1.0]);
        assert_eq!(color_shape("tint_color", &arr), Some(ColorShape::Array));
        assert_eq!(
            color_shape("position", &arr),
            None,
            "four floats are not a colour by themselves"
        );
        assert_eq!(color_shape("color", &json!([1, 2, 300, 4])), None);
        assert_eq!(color_shape("c", &json!({"r": 1, "g": 2})), None);
        assert_eq!(
            color_value(
                [0.1, 0.2, 0.3, 0.4],
                ColorShape::Array,
                &json!([0.0, 0.0, 0.0])
            ),
            json!([0.1, 0.2, 0.3])
        );
        assert_eq!(
            color_value([0.1, 0.2, 0.3, 0.4], ColorShape::Fields, &mq),
            json!({"r": 0.1, "g": 0.2, "b": 0.3, "a": 0.4})
        );
    }

    #[test]
    fn numbers_keep_their_kind() {
        assert_eq!(Number::of(&json!(3)), Some(Number::Unsigned(3)));
        assert_eq!(Number::of(&json!(-3)), Some(Number::Signed(-3)));
        assert_eq!(Number::of(&json!(2.5)), Some(Number::Float(2.5)));
        assert_eq!(Number::of(&json!("3")), None);
        assert_eq!(round_f32(0.1f32), 0.1);
    }

    #[test]
    fn an_overwritten_edit_is_told_from_a_kept_one() {
        assert!(still_holds(&json!(450.0), &json!(450.0000001)));
        assert!(!still_holds(&json!(450.0), &json!(300.0)));
        assert!(still_holds(&json!("a"), &json!("a")));
        assert!(!still_holds(&json!(3), &json!(4)));
    }

    #[test]
    fn the_plot_menu_lists_every_number() {
        let mut out = Vec::new();
        numeric_leaves(
            &json!({"a": 1, "b": {"c": [2.5, "x"]}, "d": true}),
            "",
            &mut out,
            10,
        );
        assert_eq!(out, ["/a", "/b/c/0"]);
    }
}
