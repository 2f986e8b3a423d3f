//! The decoder's messages in the user's terms: what was found (never MessagePack's markers) and
//! advice that fits the cause.

/// `message` with MessagePack's internals (`wrong msgpack marker FixStr(5)`) said in words
/// (`found a string where the new code expects another type`).
#[cfg_attr(feature = "static", allow(dead_code))]
pub(crate) fn plain(message: &str) -> String {
    const MARKER: &str = "wrong msgpack marker ";
    let Some(at) = message.find(MARKER) else {
        return message.to_owned();
    };
    let rest = &message[at + MARKER.len()..];
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '(' || c == ')' || c == '-'))
        .unwrap_or(rest.len());
    let found = match rest[..end].split('(').next().unwrap_or("") {
        "FixPos" | "FixNeg" | "U8" | "U16" | "U32" | "U64" | "I8" | "I16" | "I32" | "I64" => {
            "an integer"
        }
        "F32" | "F64" => "a float",
        "Null" => "nothing (null)",
        "True" | "False" => "a bool",
        "FixStr" | "Str8" | "Str16" | "Str32" => "a string",
        "Bin8" | "Bin16" | "Bin32" => "bytes",
        "FixArray" | "Array16" | "Array32" => "a list (or a tuple, a tuple struct)",
        "FixMap" | "Map16" | "Map32" => "a map (or a struct)",
        _ => "a value of another type",
    };
    format!(
        "{}found {found} where the new code expects another type{}",
        &message[..at],
        &rest[end..]
    )
}

/// What to do about a state the new code cannot read, for the cause in `message`.
pub(crate) fn advice(message: &str) -> &'static str {
    if message.contains("missing field") {
        "A field was added: give it a default (`#[serde(default)]` on the struct or the field), \
         or declare a new state `version` with a `migrate` function"
    } else if message.contains("unknown variant") {
        "An enum variant was removed or renamed: keep it, rename it back with \
         `#[serde(alias = \"old\")]`, or declare a new state `version` with a `migrate` function"
    } else if message.contains("invalid type")
        || message.contains("invalid value")
        || message.contains("expects another type")
        || message.contains("invalid length")
    {
        "A field changed its type: `#[serde(default)]` does not help here; give it a new name \
         (the old value is then dropped), or declare a new state `version` with a `migrate` \
         function that converts it"
    } else {
        "Declare a new state `version` with a `migrate` function, or undo the change to the state"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_said_in_words_and_the_advice_fits_the_cause() {
        assert_eq!(
            plain("hp: wrong msgpack marker FixStr(5)"),
            "hp: found a string where the new code expects another type"
        );
        assert_eq!(
            plain("wrong msgpack marker FixArray(3)"),
            "found a list (or a tuple, a tuple struct) where the new code expects another type"
        );
        assert_eq!(plain("missing field `hp`"), "missing field `hp`");
        assert!(advice("missing field `hp`").contains("#[serde(default)]"));
        let typed = plain("wrong msgpack marker FixStr(5)");
        assert!(advice(&typed).contains("does not help"));
        assert!(advice("invalid type: string \"a\", expected u32").contains("changed its type"));
        assert!(advice("unknown variant `Old`").contains("alias"));
    }
}
