//! The fast path of [`compare`](crate::compare::compare): a save that differs from the
//! running build's source in one run of bytes, inside one literal token, is that literal
//! retyped. Found from the bytes alone (a common prefix and suffix), with only the new literal
//! tokenized, so that a save of a 20k-line file costs what its memcmp costs, not a tokenization
//! of the whole file (and nothing of it is kept in proc-macro2's per-thread source map).
//!
//! Anything else (two runs, a run outside a literal, a run that makes the literal into other
//! tokens or could join its neighbours) is [`Splice::Other`]: the full compare decides.

use std::str::FromStr;

use proc_macro2::TokenStream;

use crate::compare::{Token, byte_range, flatten};

/// What the bytes of a save say.
pub(crate) enum Splice {
    /// The same text.
    Identical,
    /// One literal token changed: `old`'s token `index` is now `token` (at the old token's
    /// place).
    Literal {
        /// The old token's index in the old text's tokens.
        index: usize,
        /// The new literal.
        token: Token,
    },
    /// Anything else.
    Other,
}

/// Whether `new` is `old` (whose tokens are `tokens`) with one literal token retyped.
pub(crate) fn one_literal(tokens: &[Token], old: &str, new: &str) -> Splice {
    let (a, b) = (old.as_bytes(), new.as_bytes());
    let mut prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    if prefix == a.len() && prefix == b.len() {
        return Splice::Identical;
    }
    while !old.is_char_boundary(prefix) {
        prefix -= 1;
    }
    let room = a.len().min(b.len()) - prefix;
    let mut suffix = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take(room)
        .take_while(|(x, y)| x == y)
        .count();
    while !old.is_char_boundary(a.len() - suffix) || !new.is_char_boundary(b.len() - suffix) {
        suffix -= 1;
    }
    let (old_end, new_end) = (a.len() - suffix, b.len() - suffix);

    // The last token that starts at or before the first changed byte.
    let line_start = old[..prefix].rfind('\n').map_or(0, |i| i + 1);
    let line = 1 + old.as_bytes()[..prefix]
        .iter()
        .filter(|&&c| c == b'\n')
        .count();
    let column = old[line_start..prefix].chars().count();
    let after = tokens.partition_point(|t| {
        let start = t.span.start();
        (start.line, start.column) <= (line, column)
    });
    let Some(index) = after.checked_sub(1) else {
        return Splice::Other;
    };
    let token = &tokens[index];
    if !token.literal || token.text.starts_with('-') {
        return Splice::Other;
    }
    let range = byte_range(old, token.span);
    if range.start > prefix || old_end > range.end {
        return Splice::Other;
    }
    let end = new_end + (range.end - old_end);
    let text = &new[range.start..end];

    // The new text is one literal, and nothing next to it can join it.
    let Ok(stream) = TokenStream::from_str(text) else {
        return Splice::Other;
    };
    let mut found = Vec::new();
    flatten(stream, &mut found);
    let [single] = found.as_slice() else {
        return Splice::Other;
    };
    if !single.literal || single.text != text || text.starts_with('-') {
        return Splice::Other;
    }
    let number = text.starts_with(|c: char| c.is_ascii_digit());
    let joins = |c: char| c.is_alphanumeric() || matches!(c, '_' | '#' | '"' | '\'');
    let before = old[..range.start].chars().next_back();
    let next = new[end..].chars().next();
    if before.is_some_and(|c| joins(c) || (number && c == '.'))
        || next.is_some_and(|c| joins(c) || (number && c == '.'))
    {
        return Splice::Other;
    }
    Splice::Literal {
        index,
        token: Token {
            text: text.to_owned(),
            literal: true,
            span: token.span,
        },
    }
}
