//! A tweakable literal's value: read from the source, written back to it as a user would,
//! and read from what a user types (`cargo relive tweak SPEED 450`).

use std::fmt;

use syn::Lit;

/// What a tweakable literal is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// An integer literal.
    Int,
    /// A floating-point literal.
    Float,
    /// `true` or `false`.
    Bool,
    /// A character literal.
    Char,
    /// A string literal.
    Str,
}

impl Kind {
    /// The kind in words, for messages ("an integer").
    pub fn words(self) -> &'static str {
        match self {
            Kind::Int => "an integer",
            Kind::Float => "a float",
            Kind::Bool => "a bool",
            Kind::Char => "a char",
            Kind::Str => "a string",
        }
    }

    /// The kind's name on the wire (`int`, `float`, `bool`, `char`, `str`).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Int => "int",
            Kind::Float => "float",
            Kind::Bool => "bool",
            Kind::Char => "char",
            Kind::Str => "str",
        }
    }

    /// The kind named [`Kind::name`].
    pub fn from_name(name: &str) -> Option<Kind> {
        Some(match name {
            "int" => Kind::Int,
            "float" => Kind::Float,
            "bool" => Kind::Bool,
            "char" => Kind::Char,
            "str" => Kind::Str,
            _ => return None,
        })
    }
}

/// A literal's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// An integer (with its sign).
    Int(i128),
    /// A float (finite).
    Float(f64),
    /// A bool.
    Bool(bool),
    /// A char.
    Char(char),
    /// A string.
    Str(String),
}

impl Value {
    /// Its kind.
    pub fn kind(&self) -> Kind {
        match self {
            Value::Int(_) => Kind::Int,
            Value::Float(_) => Kind::Float,
            Value::Bool(_) => Kind::Bool,
            Value::Char(_) => Kind::Char,
            Value::Str(_) => Kind::Str,
        }
    }

    /// Reads what a user typed for a literal of `kind`: `450` or `4.5e2` for a float, `7` for an
    /// integer, `true`, `x` or `'x'` for a char, and for a string either a Rust string literal
    /// (`"a \"b\""`) or the text itself. The error says what was expected.
    pub fn parse(kind: Kind, text: &str) -> Result<Value, String> {
        let trimmed = text.trim();
        let bad = || {
            format!(
                "`{text}` is not {}: the literal there is {}",
                kind.words(),
                kind.words()
            )
        };
        match kind {
            Kind::Int => {
                let digits: String = trimmed.chars().filter(|&c| c != '_').collect();
                digits.parse::<i128>().map(Value::Int).map_err(|_| bad())
            }
            Kind::Float => match trimmed.replace('_', "").parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(Value::Float(v)),
                _ => Err(bad()),
            },
            Kind::Bool => match trimmed {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                _ => Err(bad()),
            },
            Kind::Char => {
                if let Ok(Lit::Char(c)) = syn::parse_str::<Lit>(trimmed) {
                    return Ok(Value::Char(c.value()));
                }
                let mut chars = text.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => Ok(Value::Char(c)),
                    _ => Err(bad()),
                }
            }
            Kind::Str => {
                if trimmed.starts_with('"')
                    || trimmed.starts_with("r\"")
                    || trimmed.starts_with("r#")
                {
                    match syn::parse_str::<Lit>(trimmed) {
                        Ok(Lit::Str(s)) => return Ok(Value::Str(s.value())),
                        _ => {
                            return Err(format!(
                                "`{text}` starts like a Rust string literal but is not one"
                            ));
                        }
                    }
                }
                Ok(Value::Str(text.to_owned()))
            }
        }
    }

    /// This value as a literal in the style of `old` (the literal it replaces, with its minus):
    /// its suffix, a float's decimal point, hex for a hex integer, a raw string where one was and
    /// still can be.
    pub fn as_literal_like(&self, old: &str, suffix: &str) -> String {
        let body = match self {
            Value::Int(v) => {
                let hex = old.trim_start_matches('-').starts_with("0x");
                match (hex, *v < 0) {
                    (true, false) => format!("0x{v:x}"),
                    (true, true) => format!("-0x{:x}", v.unsigned_abs()),
                    _ => v.to_string(),
                }
            }
            Value::Float(v) => {
                let mut text = format!("{v:?}");
                if !text.contains(['.', 'e', 'E']) {
                    text.push_str(".0");
                }
                text
            }
            Value::Bool(v) => v.to_string(),
            Value::Char(c) => format!("{c:?}"),
            Value::Str(s) => {
                if old.starts_with("r\"") && !s.contains('"') {
                    format!("r\"{s}\"")
                } else {
                    quoted(s)
                }
            }
        };
        format!("{body}{suffix}")
    }
}

/// `s` as a Rust string literal: quotes, backslashes and control characters escaped, everything
/// else (accents, emoji) kept as typed.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&c.escape_default().to_string()),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(v) => write!(f, "{v}"),
            Value::Float(v) => write!(f, "{v}"),
            Value::Bool(v) => write!(f, "{v}"),
            Value::Char(c) => write!(f, "{c:?}"),
            Value::Str(s) => write!(f, "{}", quoted(s)),
        }
    }
}

/// A literal's kind, suffix and value, if it is one relive tweaks (not byte strings, bytes,
/// C strings, or a value out of range of its suffix).
pub fn of(lit: &Lit, negative: bool) -> Option<(Kind, String, Value)> {
    let sign = if negative { -1 } else { 1 };
    match lit {
        Lit::Int(int) => {
            let v: i128 = int.base10_digits().parse().ok()?;
            let v = v * sign;
            fits(int.suffix(), v).then(|| (Kind::Int, int.suffix().to_owned(), Value::Int(v)))
        }
        Lit::Float(float) => {
            let v: f64 = float.base10_digits().parse().ok()?;
            let v = if negative { -v } else { v };
            let finite = if float.suffix() == "f32" {
                (v as f32).is_finite()
            } else {
                v.is_finite()
            };
            finite.then(|| (Kind::Float, float.suffix().to_owned(), Value::Float(v)))
        }
        Lit::Bool(b) if !negative => Some((Kind::Bool, String::new(), Value::Bool(b.value))),
        Lit::Char(c) if !negative && c.suffix().is_empty() => {
            Some((Kind::Char, String::new(), Value::Char(c.value())))
        }
        Lit::Str(s) if !negative && s.suffix().is_empty() => {
            Some((Kind::Str, String::new(), Value::Str(s.value())))
        }
        _ => None,
    }
}

/// Whether `v` fits an integer literal with `suffix` (an unsuffixed one: any `i64` or `u64`).
pub fn fits(suffix: &str, v: i128) -> bool {
    let (lo, hi): (i128, i128) = match suffix {
        "i8" => (i8::MIN.into(), i8::MAX.into()),
        "i16" => (i16::MIN.into(), i16::MAX.into()),
        "i32" => (i32::MIN.into(), i32::MAX.into()),
        "i64" | "isize" => (i64::MIN.into(), i64::MAX.into()),
        "u8" => (0, u8::MAX.into()),
        "u16" => (0, u16::MAX.into()),
        "u32" => (0, u32::MAX.into()),
        "u64" | "usize" => (0, u64::MAX.into()),
        "" => (i64::MIN.into(), u64::MAX.into()),
        _ => return false,
    };
    (lo..=hi).contains(&v)
}
