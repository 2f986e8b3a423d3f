//! The macros whose inputs a walk sees through: the standard formatting macros (`format!`,
//! `println!`, `write!`, `panic!`, `assert!`, …), whose arguments after the format string are
//! ordinary expressions, and `vec!`, whose input is an array expression. Any other macro's input is
//! left as it is: relive cannot know what it expands to.
//!
//! A tweakable const captured by name in a format string (`"speed {SPEED}"`) is handed to the walk
//! as a named argument added after the others (`SPEED = SPEED`), which the format string then
//! reads instead of the capture: rewritten, the argument reads the const's slot.

use std::collections::BTreeSet;

use proc_macro2::Ident;
use quote::{ToTokens, quote};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::visit_mut::VisitMut;
use syn::{Expr, Lit, Token};

/// The shape of a known macro's input.
enum Shape {
    /// Comma-separated expressions, the format string at this index (when there is one).
    Format(usize),
    /// `vec![a, b]` or `vec![x; n]`.
    Vec,
}

fn shape(mac: &syn::Macro) -> Option<Shape> {
    let segments = &mac.path.segments;
    // `println!`, `std::println!`, `::core::panic!`; not a user's `my::format!`.
    if segments.len() > 2
        || (segments.len() == 2
            && !matches!(
                segments[0].ident.to_string().as_str(),
                "std" | "core" | "alloc"
            ))
    {
        return None;
    }
    let name = segments.last()?.ident.to_string();
    Some(match name.as_str() {
        "format" | "format_args" | "print" | "println" | "eprint" | "eprintln" | "panic"
        | "unreachable" | "todo" | "unimplemented" => Shape::Format(0),
        "write" | "writeln" | "assert" | "debug_assert" => Shape::Format(1),
        "assert_eq" | "assert_ne" | "debug_assert_eq" | "debug_assert_ne" => Shape::Format(2),
        "vec" => Shape::Vec,
        _ => return None,
    })
}

/// Walks the input of `mac` with `walker` when it is a macro relive sees through, and puts the
/// walked input back. `consts` names the tweakable consts a format string may capture.
pub(crate) fn walk_macro(
    mac: &mut syn::Macro,
    walker: &mut impl VisitMut,
    consts: &BTreeSet<String>,
) {
    match shape(mac) {
        Some(Shape::Format(at)) => walk_format(mac, at, walker, consts),
        Some(Shape::Vec) => walk_vec(mac, walker),
        None => {}
    }
}

fn walk_format(
    mac: &mut syn::Macro,
    at: usize,
    walker: &mut impl VisitMut,
    consts: &BTreeSet<String>,
) {
    let parser = Punctuated::<Expr, Token![,]>::parse_terminated;
    let Ok(mut args) = parser.parse2(mac.tokens.clone()) else {
        return;
    };
    // The format string, when there is one, must be a string literal (`panic!(msg)` of an
    // older edition is not a format string; leave such a call as it is).
    let format = match args.iter().nth(at) {
        None => None,
        Some(Expr::Lit(syn::ExprLit {
            lit: Lit::Str(s), ..
        })) => Some(s.clone()),
        Some(_) => return,
    };
    let named: Vec<String> = args
        .iter()
        .skip(at + 1)
        .filter_map(|arg| match arg {
            Expr::Assign(assign) => match &*assign.left {
                Expr::Path(p) => p.path.get_ident().map(Ident::to_string),
                _ => None,
            },
            _ => None,
        })
        .collect();
    for (i, arg) in args.iter_mut().enumerate() {
        if i == at {
            continue;
        }
        match arg {
            // `name = value`: the name is not a value.
            Expr::Assign(assign) if i > at => walker.visit_expr_mut(&mut assign.right),
            _ => walker.visit_expr_mut(arg),
        }
    }
    if let Some(format) = format {
        let mut added = Vec::new();
        for name in format_captures(&format.value()) {
            if consts.contains(&name) && !named.contains(&name) && !added.contains(&name) {
                added.push(name);
            }
        }
        for name in added {
            let ident = Ident::new(&name, format.span());
            let mut value: Expr = syn::parse_quote_spanned!(format.span()=> #ident);
            walker.visit_expr_mut(&mut value);
            args.push(syn::parse_quote!(#ident = #value));
        }
    }
    mac.tokens = args.into_token_stream();
}

fn walk_vec(mac: &mut syn::Macro, walker: &mut impl VisitMut) {
    let tokens = &mac.tokens;
    let Ok(mut expr) = syn::parse2::<Expr>(quote!([#tokens])) else {
        return;
    };
    walker.visit_expr_mut(&mut expr);
    mac.tokens = match expr {
        Expr::Array(array) => array.elems.into_token_stream(),
        Expr::Repeat(repeat) => {
            let (value, len) = (&repeat.expr, &repeat.len);
            quote!(#value; #len)
        }
        _ => return,
    };
}

/// The names a format string captures (`{name}`, `{name:>8}`), in order; `{{` and `}}` are
/// braces, `{0}` and `{}` positions.
pub(crate) fn format_captures(format: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
            }
            '{' => {
                let mut inside = String::new();
                for c in chars.by_ref() {
                    if c == '}' {
                        break;
                    }
                    inside.push(c);
                }
                let name = inside.split(':').next().unwrap_or_default().trim();
                let identifier = name
                    .chars()
                    .next()
                    .is_some_and(|c| c == '_' || c.is_alphabetic())
                    && name.chars().all(|c| c == '_' || c.is_alphanumeric());
                if identifier && name != "_" {
                    names.push(name.to_owned());
                }
            }
            _ => {}
        }
    }
    names
}
