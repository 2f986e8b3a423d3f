//! Comparing a saved source file with the source of the running build: did only tweakable
//! literals change, and to what? What `cargo relive run` asks on every save (feature
//! `locations`: it needs each token's line and column).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use proc_macro2::{Delimiter, Span, TokenStream, TokenTree};
use syn::spanned::Spanned;
use syn::{Expr, ImplItem, Item};

use crate::splice::Splice;
use crate::{Body, Found, Site, Value, is_tweak, walk_block, walk_expr};

/// What relive knows about the tweakable literals of one source file.
#[derive(Debug, Default, Clone)]
pub struct FileTweaks {
    /// Every tweakable literal, table by table in source order.
    pub sites: Vec<Site>,
    /// The tweakable consts by name, with the table of their value.
    pub consts: BTreeSet<String>,
    /// Where a marked item reads a tweakable const by name (those uses follow its tweaks).
    pub const_uses: Vec<Span>,
    /// Literals in `Default::default` bodies: where, the type, and the field path if in a
    /// struct expression (`/player/speed`).
    pub defaults: Vec<DefaultLiteral>,
    /// The state type named in the file's `export!` (`state: State`), if any.
    pub state_type: Option<String>,
}

/// A literal in a `Default::default` body.
#[derive(Debug, Clone)]
pub struct DefaultLiteral {
    /// The type whose default it is.
    pub ty: String,
    /// Its field path in that type's value, as a JSON pointer, when it is the value of a field
    /// of a struct expression (`State { x: 200.0, .. }` → `/x`).
    pub pointer: Option<String>,
    /// The literal's start.
    pub span: Span,
}

/// A tweakable literal whose value changed.
#[derive(Debug, Clone)]
pub struct Change {
    /// The literal, as it is now.
    pub site: Site,
    /// Its value in the running build.
    pub old: Value,
    /// Its text there.
    pub old_text: String,
}

/// A literal of a `Default::default` that changed.
#[derive(Debug, Clone)]
pub struct DefaultChange {
    /// The type whose default it is.
    pub ty: String,
    /// Where the value goes in the running state, when relive can tell (the state type's own
    /// default, a field of its struct expression).
    pub pointer: Option<String>,
    /// The literal's text before and after.
    pub old_text: String,
    /// See `old_text`.
    pub new_text: String,
    /// The new literal's value.
    pub value: Option<Value>,
    /// Its line (1-based).
    pub line: usize,
}

/// What a save changed, as far as tweaks go.
#[derive(Debug)]
pub enum Outcome {
    /// The same tokens (whitespace or comments changed): a build, since lines may have moved.
    Same,
    /// Only tweakable literals changed (at least one).
    Tweaks(Vec<Change>),
    /// Something else: a build. `defaults` lists the changed literals of `Default::default`
    /// bodies when those (and tweakable literals) were all that changed.
    Build {
        /// Why, in words.
        why: String,
        /// See above.
        defaults: Vec<DefaultChange>,
    },
}

/// Reads `text` ahead of a [`compare`] with it as the running build's source: its tokens and
/// tweaks are kept (for the last few texts of this thread), so the compare of the next save
/// only tokenizes that save.
pub fn prepare(text: &str) {
    let memo = crate::memo::of(text);
    memo.tokens();
    memo.tweaks();
}

/// Lets go of what this thread kept of the texts it read (see [`prepare`]) and of
/// proc-macro2's map of the sources behind their spans, once more than `limit` bytes were read
/// since the last time: that map only grows, by each text read (on a 20k-line file, 1 MB a
/// build and a save that changed code), so a long session calls this before each [`prepare`].
/// Every `Span` (in a [`Site`], a [`FileTweaks`]) made on this thread before is void after it;
/// returns whether it let go.
pub fn reclaim(limit: usize) -> bool {
    crate::memo::reclaim(limit)
}

/// Reads a file's tweaks. The error is the file's syntax error. (Kept for the last few texts
/// of this thread: the same text again costs a copy, not a parse.)
pub fn analyze(text: &str) -> syn::Result<FileTweaks> {
    match crate::memo::of(text).tweaks() {
        Some(tweaks) => Ok((*tweaks).clone()),
        None => analyze_uncached(text),
    }
}

pub(crate) fn analyze_uncached(text: &str) -> syn::Result<FileTweaks> {
    let file = syn::parse_file(text)?;
    let mut out = FileTweaks {
        consts: crate::tweak_consts_in(text),
        state_type: state_type(&file.items),
        ..FileTweaks::default()
    };
    let file_consts = out.consts.clone();
    for item in &file.items {
        scan(item, &file_consts, &mut out);
    }
    Ok(out)
}

struct Uses<'a>(&'a mut Vec<Span>);

impl Found for Uses<'_> {
    fn literal(&mut self, _: &mut Expr, _: &Site) {}
    fn const_use(&mut self, expr: &mut Expr, _: &syn::Ident) {
        self.0.push(expr.span());
    }
}

fn scan(item: &Item, file_consts: &BTreeSet<String>, out: &mut FileTweaks) {
    let marked = match item {
        Item::Fn(f) => f.attrs.iter().any(is_tweak),
        Item::Impl(i) => i.attrs.iter().any(is_tweak),
        Item::Mod(m) => m.attrs.iter().any(is_tweak),
        Item::Const(c) => c.attrs.iter().any(is_tweak),
        _ => false,
    };
    if marked {
        let mut item = item.clone();
        let mut uses = Vec::new();
        let mut sites = Vec::new();
        let mut module_consts = BTreeSet::new();
        crate::bodies(&mut item, &mut |table, body, inner| {
            let mut consts = file_consts.clone();
            consts.extend(inner.iter().cloned());
            module_consts.extend(inner.iter().cloned());
            match body {
                Body::Fn(block) => {
                    sites.extend(walk_block(&table, block, &consts, &mut Uses(&mut uses)))
                }
                Body::Const(c) => sites.extend(walk_expr(
                    &table,
                    &mut c.expr,
                    &consts,
                    &mut Uses(&mut uses),
                )),
            }
        });
        out.sites.extend(sites);
        out.const_uses.extend(uses);
        out.consts.extend(module_consts);
    } else {
        match item {
            Item::Impl(imp) => {
                for inner in &imp.items {
                    if let ImplItem::Fn(method) = inner
                        && method.attrs.iter().any(is_tweak)
                        && let Some(table) = crate::method_table(method)
                    {
                        let mut block = method.block.clone();
                        let mut uses = Vec::new();
                        out.sites.extend(walk_block(
                            &table,
                            &mut block,
                            file_consts,
                            &mut Uses(&mut uses),
                        ));
                        out.const_uses.extend(uses);
                    }
                }
                if let Some((path, _)) = &imp.trait_
                    && path.segments.last().is_some_and(|s| s.ident == "Default")
                {
                    defaults_of(imp, out);
                }
            }
            Item::Mod(module) => {
                for inner in module.content.iter().flat_map(|(_, items)| items) {
                    scan(inner, file_consts, out);
                }
            }
            _ => {}
        }
    }
}

/// The `state:` of the file's `export!` macro.
fn state_type(items: &[Item]) -> Option<String> {
    items.iter().find_map(|item| {
        let Item::Macro(mac) = item else { return None };
        if mac.mac.path.segments.last()?.ident != "export" {
            return None;
        }
        let tokens: Vec<TokenTree> = mac.mac.tokens.clone().into_iter().collect();
        tokens.windows(3).find_map(|w| match w {
            [
                TokenTree::Ident(key),
                TokenTree::Punct(colon),
                TokenTree::Ident(ty),
            ] if key == "state" && colon.as_char() == ':' => Some(ty.to_string()),
            _ => None,
        })
    })
}

fn defaults_of(imp: &syn::ItemImpl, out: &mut FileTweaks) {
    use syn::visit_mut::VisitMut;
    struct Lits<'a> {
        ty: String,
        path: Vec<String>,
        out: &'a mut Vec<DefaultLiteral>,
    }
    impl VisitMut for Lits<'_> {
        fn visit_expr_struct_mut(&mut self, s: &mut syn::ExprStruct) {
            for field in &mut s.fields {
                if let syn::Member::Named(name) = &field.member {
                    self.path.push(name.to_string());
                    match &mut field.expr {
                        Expr::Lit(lit) => self.out.push(DefaultLiteral {
                            ty: self.ty.clone(),
                            pointer: Some(format!("/{}", self.path.join("/"))),
                            span: lit.lit.span(),
                        }),
                        other => self.visit_expr_mut(other),
                    }
                    self.path.pop();
                } else {
                    self.visit_expr_mut(&mut field.expr);
                }
            }
        }
        fn visit_lit_mut(&mut self, lit: &mut syn::Lit) {
            self.out.push(DefaultLiteral {
                ty: self.ty.clone(),
                pointer: None,
                span: lit.span(),
            });
        }
    }
    let ty = crate::squeeze(&imp.self_ty);
    for inner in &imp.items {
        if let ImplItem::Fn(method) = inner
            && method.sig.ident == "default"
        {
            let mut lits = Lits {
                ty: ty.clone(),
                path: Vec::new(),
                out: &mut out.defaults,
            };
            lits.visit_block_mut(&mut method.block.clone());
        }
    }
}

/// One token of a flattened file: its text, and whether it is a literal.
pub(crate) struct Token {
    pub(crate) text: String,
    pub(crate) literal: bool,
    pub(crate) span: Span,
}

pub(crate) fn flatten(stream: TokenStream, out: &mut Vec<Token>) {
    for tree in stream {
        match tree {
            TokenTree::Group(group) => {
                let (open, close) = match group.delimiter() {
                    Delimiter::Parenthesis => ("(", ")"),
                    Delimiter::Brace => ("{", "}"),
                    Delimiter::Bracket => ("[", "]"),
                    Delimiter::None => ("", ""),
                };
                out.push(Token {
                    text: open.into(),
                    literal: false,
                    span: group.span_open(),
                });
                flatten(group.stream(), out);
                out.push(Token {
                    text: close.into(),
                    literal: false,
                    span: group.span_close(),
                });
            }
            TokenTree::Punct(p) => out.push(Token {
                text: format!("{}{:?}", p.as_char(), p.spacing()),
                literal: false,
                span: p.span(),
            }),
            TokenTree::Ident(i) => out.push(Token {
                text: i.to_string(),
                literal: false,
                span: i.span(),
            }),
            // A minus right before a literal goes with it (`-1.5`): a sign flipped is a changed
            // literal, not changed code. A binary minus merges the same way on both sides, so
            // the code around still compares as it was; the literal's position is its own.
            TokenTree::Literal(l) => {
                let minus = out.last().is_some_and(|t| !t.literal && t.text == "-Alone");
                if minus {
                    out.pop();
                }
                out.push(Token {
                    text: format!("{}{l}", if minus { "-" } else { "" }),
                    literal: true,
                    span: l.span(),
                });
            }
        }
    }
}

fn position(span: Span) -> (usize, usize) {
    let start = span.start();
    (start.line, start.column)
}

/// Compares `old` (the running build's source of a file) with `new` (the file as saved).
///
/// When only literals changed, the two files have the same items, so what `old` holds (its
/// tweakable literals, its consts' uses: parsed once per build, see [`prepare`]) says what
/// each changed literal is; `new` is only tokenized, and when it differs from `old` in one run
/// of bytes inside one literal, only that literal is. A changed literal whose line count or sign
/// changed (the lines after it move; a minus may be unary or binary) is read from `new` parsed.
pub fn compare(old: &str, new: &str) -> Outcome {
    let old_memo = crate::memo::of(old);
    let Some(a) = old_memo.tokens() else {
        return build("the file does not parse".into());
    };
    // The common save while tuning: one literal retyped. Found from the bytes that differ,
    // with only the new literal tokenized (see `splice`).
    match crate::splice::one_literal(&a, old, new) {
        Splice::Identical => return Outcome::Same,
        Splice::Literal { index, token } => {
            let old_token = &a[index];
            if old_token.text.matches('\n').count() == token.text.matches('\n').count() {
                return from_changed(&old_memo, old, new, &[(old_token, &token)]);
            }
        }
        Splice::Other => {}
    }
    let new_memo = crate::memo::of(new);
    let Some(b) = new_memo.tokens() else {
        return build("the file does not parse".into());
    };
    if a.len() != b.len()
        || a.iter()
            .zip(b.iter())
            .any(|(x, y)| !x.literal && x.text != y.text)
    {
        return build("code changed".into());
    }
    let changed: Vec<(&Token, &Token)> = a
        .iter()
        .zip(b.iter())
        .filter(|(x, y)| x.literal && x.text != y.text)
        .collect();
    if changed.is_empty() {
        return Outcome::Same;
    }
    from_changed(&old_memo, old, new, &changed)
}

/// The outcome of a save whose tokens are `old`'s but for the literals in `changed` (old
/// token, new token).
fn from_changed(
    old_memo: &crate::memo::Memo,
    old: &str,
    new: &str,
    changed: &[(&Token, &Token)],
) -> Outcome {
    let moves = changed.iter().any(|(x, y)| {
        x.text.matches('\n').count() != y.text.matches('\n').count()
            || x.text.starts_with('-') != y.text.starts_with('-')
    });
    if moves {
        let (Ok(before), Ok(after)) = (analyze(old), analyze(new)) else {
            return build("the file does not parse".into());
        };
        return compare_parsed(&before, &after, new, changed);
    }
    let Some(before) = old_memo.tweaks() else {
        return build("the file does not parse".into());
    };
    let by_position = sites_by_position(&before);
    let defaults = defaults_by_position(&before);
    let mut tweaks = Vec::new();
    let mut default_changes = Vec::new();
    for &(old_token, new_token) in changed {
        let at = position(old_token.span);
        let site = by_position.get(&at).map(|&i| &before.sites[i]);
        let relit = site.map(|s| (s, relit(s, &new_token.text)));
        if let Some(d) = defaults.get(&at) {
            default_changes.push(default_change(
                d,
                &before,
                old_token,
                new_token,
                relit.and_then(|(_, r)| r).map(|s| s.value),
                at.0,
            ));
        } else if let Some((old_site, relit)) = relit {
            let Some(site) = relit else {
                return build("a tweakable literal changed its kind or type suffix".into());
            };
            tweaks.push(Change {
                site,
                old: old_site.value.clone(),
                old_text: old_site.text.clone(),
            });
        } else {
            return build(not_marked(new_token, at.0));
        }
    }
    // The files have the same items: what `old` says of its consts holds for `new`.
    finish(tweaks, default_changes, &before, old)
}

fn build(why: String) -> Outcome {
    Outcome::Build {
        why,
        defaults: Vec::new(),
    }
}

fn not_marked(token: &Token, line: usize) -> String {
    format!(
        "`{}` at line {line} is not in a #[relive_worker::tweak] item",
        token.text
    )
}

fn sites_by_position(file: &FileTweaks) -> BTreeMap<(usize, usize), usize> {
    file.sites
        .iter()
        .enumerate()
        .map(|(i, s)| (position(s.literal_span), i))
        .collect()
}

fn defaults_by_position(file: &FileTweaks) -> BTreeMap<(usize, usize), &DefaultLiteral> {
    file.defaults
        .iter()
        .map(|d| (position(d.span), d))
        .collect()
}

fn default_change(
    d: &DefaultLiteral,
    file: &FileTweaks,
    old: &Token,
    new: &Token,
    value: Option<Value>,
    line: usize,
) -> DefaultChange {
    DefaultChange {
        ty: d.ty.clone(),
        pointer: d
            .pointer
            .clone()
            .filter(|_| file.state_type.as_deref() == Some(d.ty.as_str())),
        old_text: old.text.clone(),
        new_text: new.text.clone(),
        value,
        line,
    }
}

/// `site` with the literal text `text` instead (its sign as the site's: both or neither have a
/// minus, see [`compare`]); `None` when that is another kind, suffix, or not a tweakable literal.
fn relit(site: &Site, text: &str) -> Option<Site> {
    let negative = site.text.starts_with('-');
    let body = if negative {
        text.strip_prefix('-')?
    } else {
        text.strip_prefix('-').unwrap_or(text)
    };
    let lit: syn::Lit = syn::parse_str(body).ok()?;
    let (kind, suffix, value) = crate::value::of(&lit, negative)?;
    (kind == site.kind && suffix == site.suffix).then(|| Site {
        value,
        text: if negative {
            format!("-{body}")
        } else {
            body.to_owned()
        },
        ..site.clone()
    })
}

/// [`compare`] with both files parsed: `changed` located in `after` (the file `new` as saved).
fn compare_parsed(
    before: &FileTweaks,
    after: &FileTweaks,
    new: &str,
    changed: &[(&Token, &Token)],
) -> Outcome {
    if before.sites.len() != after.sites.len()
        || before.sites.iter().zip(&after.sites).any(|(x, y)| {
            x.table != y.table || x.index != y.index || x.kind != y.kind || x.suffix != y.suffix
        })
    {
        return build("a tweakable literal changed its kind or type suffix".into());
    }
    let by_position = sites_by_position(after);
    let defaults = defaults_by_position(after);
    let mut tweaks = Vec::new();
    let mut default_changes = Vec::new();
    for &(old_token, new_token) in changed {
        let at = position(new_token.span);
        if let Some(d) = defaults.get(&at) {
            let value = by_position.get(&at).map(|&i| after.sites[i].value.clone());
            default_changes.push(default_change(d, after, old_token, new_token, value, at.0));
        } else if let Some(&i) = by_position.get(&at) {
            let old_site = &before.sites[i];
            tweaks.push(Change {
                site: after.sites[i].clone(),
                old: old_site.value.clone(),
                old_text: old_site.text.clone(),
            });
        } else {
            return build(not_marked(new_token, at.0));
        }
    }
    finish(tweaks, default_changes, after, new)
}

/// The checks of the whole file, once each changed literal is known: `file` is what `text`
/// holds.
fn finish(
    tweaks: Vec<Change>,
    default_changes: Vec<DefaultChange>,
    file: &FileTweaks,
    text: &str,
) -> Outcome {
    if !default_changes.is_empty() {
        let why = "a literal of a `Default::default` changed".to_owned();
        return Outcome::Build {
            why,
            defaults: default_changes,
        };
    }
    let mut tables = BTreeSet::new();
    let duplicated: BTreeSet<&str> = file
        .sites
        .iter()
        .filter(|s| s.index == 0)
        .filter_map(|s| (!tables.insert(s.table.as_str())).then_some(s.table.as_str()))
        .collect();
    if let Some(table) = tweaks
        .iter()
        .find(|c| duplicated.contains(c.site.table.as_str()))
    {
        return build(format!(
            "two marked items of this file are both named `{}`",
            table.site.table
        ));
    }
    // A const read by name outside the marked items has its old value compiled in there.
    for change in &tweaks {
        let name = change.site.table.rsplit("::").next().unwrap_or_default();
        if file.consts.contains(name) && change.site.table == name {
            let rewritten: BTreeSet<(usize, usize)> =
                file.const_uses.iter().map(|s| position(*s)).collect();
            if let Some(at) = crate::memo::of(text)
                .mentions(name)
                .iter()
                .filter(|p| !rewritten.contains(p))
                .nth(1)
            {
                return build(format!(
                    "`{name}` is also used outside #[relive_worker::tweak] items (line {})",
                    at.0
                ));
            }
        }
    }
    Outcome::Tweaks(tweaks)
}

/// Where `text` names `name`: as a token (in macro inputs too), or as `{name}` in a string (a
/// format string's capture). Positions are (line, column) of the token.
pub fn mentions(text: &str, name: &str) -> Vec<(usize, usize)> {
    crate::memo::of(text).mentions(name).to_vec()
}

pub(crate) fn mentions_in(tokens: &[Token], name: &str) -> Vec<(usize, usize)> {
    tokens
        .iter()
        .filter(|t| {
            if t.literal {
                t.text.starts_with('"')
                    && (t.text.contains(&format!("{{{name}}}"))
                        || t.text.contains(&format!("{{{name}:")))
            } else {
                t.text == name
            }
        })
        .map(|t| position(t.span))
        .collect()
}

/// The byte range of `span` in `text` (whose spans came from parsing `text`).
pub fn byte_range(text: &str, span: Span) -> Range<usize> {
    let offset = |line: usize, column: usize| {
        let line_start: usize = text
            .split_inclusive('\n')
            .take(line.saturating_sub(1))
            .map(str::len)
            .sum();
        let rest = &text[line_start..];
        line_start
            + rest
                .char_indices()
                .nth(column)
                .map_or(rest.len(), |(i, _)| i)
    };
    let (start, end) = (span.start(), span.end());
    offset(start.line, start.column)..offset(end.line, end.column)
}
