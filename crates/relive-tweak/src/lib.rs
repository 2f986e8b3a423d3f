//! Which literals of a relive worker are tweakable, numbered the same way by the two sides that
//! must agree on it: the `#[relive_worker::tweak]` attribute, which compiles each such literal
//! into a read of a slot, and `cargo relive run`, which compares a saved source with the source
//! of the running build and, when only such literals changed, sends their new values to the slots.
//!
//! A marked item holds *tables*, one per function body (and one per marked `const`); a literal's
//! key is its table's name (`update`, `Player::step`, `SPEED`), relative to the marked item, and
//! its index in the table, in the order of the source. Edits elsewhere (another function, a line
//! added above) leave a key as it is.
//!
//! A literal is tweakable where a value computed at run time may stand: not in patterns, types,
//! array lengths, generic arguments, attributes, `const` blocks or `const fn`s, nested items, the
//! inputs of macros other than the standard formatting ones and `vec!` (whose arguments are
//! ordinary expressions), or under a `&` that the compiler would promote to a `'static` constant. Those are left
//! as they are, so marking an item never turns into a compile error.

use std::collections::BTreeSet;

use proc_macro2::Span;
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::visit_mut::{self, VisitMut};
use syn::{Block, Expr, ExprLit, ImplItem, Item, Lit, UnOp};

#[cfg(feature = "locations")]
pub mod compare;
mod macros;
#[cfg(feature = "locations")]
mod memo;
#[cfg(feature = "locations")]
mod splice;
pub mod value;

pub use value::{Kind, Value};

/// The name of the attribute, as its path's last segment (`#[relive_worker::tweak]`, `#[tweak]`).
pub const ATTRIBUTE: &str = "tweak";

/// One tweakable literal: a literal, or a literal with a minus in front (`-1.5`).
#[derive(Debug, Clone)]
pub struct Site {
    /// Its table: `update`, `Player::step`, `physics::gravity`, or a const's name.
    pub table: String,
    /// Its place in the table.
    pub index: usize,
    /// What it is.
    pub kind: Kind,
    /// Its type suffix (`f32` of `1.0f32`), or empty.
    pub suffix: String,
    /// Its value (with the minus).
    pub value: Value,
    /// Its text in the source (`-1.5`, `"hi"`).
    pub text: String,
    /// The whole literal, with the minus.
    pub span: Span,
    /// The literal token itself.
    pub literal_span: Span,
    /// Inside a closure or an `async` block (which may outlive the body's locals).
    pub nested: bool,
}

/// Whether `attr` is the tweak attribute (any path ending in `tweak`).
pub fn is_tweak(attr: &syn::Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|s| s.ident == ATTRIBUTE)
}

/// What a walk does with what it finds: the proc macro rewrites, the supervisor only looks.
pub trait Found {
    /// A tweakable literal (`expr` is the whole literal, with its minus).
    fn literal(&mut self, expr: &mut Expr, site: &Site);
    /// A use, by its bare name, of a tweakable const of the same file or module.
    fn const_use(&mut self, expr: &mut Expr, name: &syn::Ident);
}

/// Does nothing with what it finds (to number the sites only).
pub struct Look;

impl Found for Look {
    fn literal(&mut self, _: &mut Expr, _: &Site) {}
    fn const_use(&mut self, _: &mut Expr, _: &syn::Ident) {}
}

/// A body of a marked item, with the table its literals go to.
pub enum Body<'a> {
    /// A function's (or method's) body.
    Fn(&'a mut Block),
    /// A `const` item (its value's literals; its uses in marked items read them).
    Const(&'a mut syn::ItemConst),
}

/// Calls `f` with each body of `item` (a marked item), the name of its table, and the consts
/// of the marked modules around it (every const of a marked module is tweakable, and its
/// bodies use them by name), in source order: a function, the methods of an `impl`, the
/// functions, `impl`s and consts of an inline module (recursively), a const. `const fn`s are
/// left alone (a runtime value cannot go there).
pub fn bodies(item: &mut Item, f: &mut dyn FnMut(String, Body<'_>, &BTreeSet<String>)) {
    walk_item(item, "", &BTreeSet::new(), f);
}

type BodyFn<'f> = dyn FnMut(String, Body<'_>, &BTreeSet<String>) + 'f;

fn walk_item(item: &mut Item, prefix: &str, consts: &BTreeSet<String>, f: &mut BodyFn<'_>) {
    match item {
        Item::Fn(func) if func.sig.constness.is_none() => {
            f(
                format!("{prefix}{}", func.sig.ident),
                Body::Fn(&mut func.block),
                consts,
            );
        }
        Item::Impl(imp) => {
            let ty = squeeze(&imp.self_ty);
            let owner = match &imp.trait_ {
                Some((path, _)) => format!("<{ty} as {}>", squeeze(path)),
                None => ty,
            };
            for inner in &mut imp.items {
                if let ImplItem::Fn(method) = inner
                    && method.sig.constness.is_none()
                {
                    f(
                        format!("{prefix}{owner}::{}", method.sig.ident),
                        Body::Fn(&mut method.block),
                        consts,
                    );
                }
            }
        }
        Item::Mod(module) => {
            let inner_prefix = format!("{prefix}{}::", module.ident);
            if let Some((_, items)) = &mut module.content {
                let mut inner_consts = consts.clone();
                inner_consts.extend(tweak_consts(items, true));
                for inner in items {
                    walk_item(inner, &inner_prefix, &inner_consts, f);
                }
            }
        }
        Item::Const(constant) => {
            f(
                format!("{prefix}{}", constant.ident),
                Body::Const(constant),
                consts,
            );
        }
        _ => {}
    }
}

/// A method of an `impl` that is marked by itself: its table is named by the method alone,
/// as the attribute sees it.
pub fn method_table(method: &syn::ImplItemFn) -> Option<String> {
    method
        .sig
        .constness
        .is_none()
        .then(|| method.sig.ident.to_string())
}

/// Tokens as one string without spaces: the same whichever side printed them.
fn squeeze(tokens: &impl ToTokens) -> String {
    tokens
        .to_token_stream()
        .to_string()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// The tweakable consts declared by name in `items` (a file's or a marked module's): consts
/// with the attribute, and, in a marked module, every const.
pub fn tweak_consts(items: &[Item], all: bool) -> BTreeSet<String> {
    items
        .iter()
        .filter_map(|item| match item {
            Item::Const(c) if all || c.attrs.iter().any(is_tweak) => Some(c.ident.to_string()),
            _ => None,
        })
        .collect()
}

/// The tweakable consts a file declares at its top level (`#[..tweak] const NAME`), read from
/// its tokens (the proc macro reads the file it is in with this; a whole parse would cost each
/// marked item of a large file).
pub fn tweak_consts_in(text: &str) -> BTreeSet<String> {
    use proc_macro2::{Delimiter, TokenTree};
    let Ok(stream) = text.parse::<proc_macro2::TokenStream>() else {
        return BTreeSet::new();
    };
    let mut out = BTreeSet::new();
    let mut marked = false;
    let mut trees = stream.into_iter().peekable();
    while let Some(tree) = trees.next() {
        match &tree {
            TokenTree::Punct(p) if p.as_char() == '#' => {
                if let Some(TokenTree::Group(g)) = trees.peek()
                    && g.delimiter() == Delimiter::Bracket
                {
                    let words: Vec<TokenTree> = g.stream().into_iter().collect();
                    let path_only = words.iter().all(|t| match t {
                        TokenTree::Ident(_) => true,
                        TokenTree::Punct(p) => p.as_char() == ':',
                        _ => false,
                    });
                    let last = words.iter().rev().find_map(|t| match t {
                        TokenTree::Ident(i) => Some(i.to_string()),
                        _ => None,
                    });
                    marked |= path_only && last.as_deref() == Some(ATTRIBUTE);
                    trees.next();
                }
            }
            TokenTree::Ident(i) if i == "const" && marked => {
                if let Some(TokenTree::Ident(name)) = trees.peek()
                    && name != "_"
                    && name != "fn"
                {
                    out.insert(name.to_string());
                }
                marked = false;
            }
            TokenTree::Punct(p) if p.as_char() == ';' => marked = false,
            TokenTree::Group(g) if g.delimiter() == Delimiter::Brace => marked = false,
            _ => {}
        }
    }
    out
}

/// Walks one body: numbers its tweakable literals (in source order) and hands each, and each
/// use of a name in `consts`, to `found`. Returns the sites.
pub fn walk_block(
    table: &str,
    block: &mut Block,
    consts: &BTreeSet<String>,
    found: &mut dyn Found,
) -> Vec<Site> {
    let mut walker = Walker::new(table, consts, found);
    walker.visit_block_mut(block);
    walker.sites
}

/// Walks a const's value, as [`walk_block`] a body.
pub fn walk_expr(
    table: &str,
    expr: &mut Expr,
    consts: &BTreeSet<String>,
    found: &mut dyn Found,
) -> Vec<Site> {
    let mut walker = Walker::new(table, consts, found);
    walker.visit_expr_mut(expr);
    walker.sites
}

struct Walker<'a> {
    table: String,
    consts: &'a BTreeSet<String>,
    found: &'a mut dyn Found,
    sites: Vec<Site>,
    /// Closures and `async` blocks around the walk.
    nested: usize,
}

impl<'a> Walker<'a> {
    fn new(table: &str, consts: &'a BTreeSet<String>, found: &'a mut dyn Found) -> Self {
        Walker {
            table: table.to_owned(),
            consts,
            found,
            sites: Vec::new(),
            nested: 0,
        }
    }

    fn site(&mut self, expr: &Expr, lit: &ExprLit, negative: bool) -> Option<Site> {
        if !lit.attrs.is_empty() {
            return None;
        }
        let (kind, suffix, value) = value::of(&lit.lit, negative)?;
        let text = if negative {
            format!("-{}", lit.lit.to_token_stream())
        } else {
            lit.lit.to_token_stream().to_string()
        };
        Some(Site {
            table: self.table.clone(),
            index: self.sites.len(),
            kind,
            suffix,
            value,
            text,
            span: expr.span(),
            literal_span: lit.lit.span(),
            nested: self.nested > 0,
        })
    }
}

/// Whether `&expr` would be promoted to a `'static` constant (made of literals only): its
/// literals stay literals, or a `&'static` the code relies on would become a temporary.
fn promotable(expr: &Expr) -> bool {
    match expr {
        Expr::Lit(_) => true,
        Expr::Unary(u) => matches!(u.op, UnOp::Neg(_)) && promotable(&u.expr),
        Expr::Array(a) => a.elems.iter().all(promotable),
        Expr::Tuple(t) => t.elems.iter().all(promotable),
        Expr::Paren(p) => promotable(&p.expr),
        Expr::Group(g) => promotable(&g.expr),
        Expr::Path(_) => true,
        _ => false,
    }
}

impl VisitMut for Walker<'_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        match expr {
            Expr::Lit(lit) => {
                let lit = lit.clone();
                if let Some(site) = self.site(expr, &lit, false) {
                    self.found.literal(expr, &site);
                    self.sites.push(site);
                }
            }
            Expr::Unary(unary)
                if matches!(unary.op, UnOp::Neg(_))
                    && unary.attrs.is_empty()
                    && matches!(
                        &*unary.expr,
                        Expr::Lit(ExprLit {
                            lit: Lit::Int(_) | Lit::Float(_),
                            ..
                        })
                    ) =>
            {
                let Expr::Lit(lit) = &*unary.expr else { return };
                let lit = lit.clone();
                if let Some(site) = self.site(expr, &lit, true) {
                    self.found.literal(expr, &site);
                    self.sites.push(site);
                }
            }
            Expr::Path(path)
                if path.qself.is_none()
                    && path.attrs.is_empty()
                    && path.path.leading_colon.is_none()
                    && path.path.segments.len() == 1
                    && path.path.segments[0].arguments.is_none()
                    && self
                        .consts
                        .contains(&path.path.segments[0].ident.to_string()) =>
            {
                let name = path.path.segments[0].ident.clone();
                self.found.const_use(expr, &name);
            }
            Expr::Reference(reference)
                if reference.mutability.is_none() && promotable(&reference.expr) => {}
            Expr::Const(_) => {}
            Expr::Repeat(repeat) => self.visit_expr_mut(&mut repeat.expr),
            Expr::Closure(_) | Expr::Async(_) => {
                self.nested += 1;
                visit_mut::visit_expr_mut(self, expr);
                self.nested -= 1;
            }
            _ => visit_mut::visit_expr_mut(self, expr),
        }
    }

    fn visit_pat_mut(&mut self, _: &mut syn::Pat) {}
    fn visit_type_mut(&mut self, _: &mut syn::Type) {}
    fn visit_attribute_mut(&mut self, _: &mut syn::Attribute) {}
    fn visit_item_mut(&mut self, _: &mut Item) {}
    fn visit_generic_argument_mut(&mut self, _: &mut syn::GenericArgument) {}
    fn visit_macro_mut(&mut self, mac: &mut syn::Macro) {
        let consts = self.consts;
        macros::walk_macro(mac, self, consts);
    }
}

#[cfg(test)]
mod tests;
