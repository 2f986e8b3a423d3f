//! `#[relive_worker::tweak]`: every tweakable literal of the marked item becomes a read of its
//! slot (`relive_worker::__tweak_get!`), each body gets its table, and a marked `const` gets a
//! runtime twin its uses by name read. Which literals, and their numbering, come from
//! `relive-tweak`, which `cargo relive run` uses on the source too.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use proc_macro2::{Span, TokenStream as Tokens};
use quote::{quote, quote_spanned};
use relive_tweak::{Body, Found, Site};
use syn::{Expr, Item};

/// The attribute's expansion.
pub fn expand(attr: Tokens, item: Tokens) -> Tokens {
    if !attr.is_empty() {
        return syn::Error::new_spanned(attr, "#[relive_worker::tweak] takes no arguments")
            .to_compile_error();
    }
    let file = source_file();
    let consts = file
        .as_ref()
        .map(|(path, _)| file_consts(path))
        .unwrap_or_default();
    let shown = file.map(|(_, shown)| shown).unwrap_or_default();
    // A method marked alone (inside an impl that is not) parses as a function.
    let mut item: Item = match syn::parse2(item.clone()) {
        Ok(item) => item,
        Err(_) => match syn::parse2::<syn::ImplItemFn>(item) {
            Ok(method) => return expand_method(method, &consts, &shown),
            Err(e) => return e.to_compile_error(),
        },
    };
    match &item {
        Item::Fn(_) | Item::Impl(_) | Item::Mod(_) | Item::Const(_) => {}
        _ => {
            return syn::Error::new_spanned(
                &item,
                "#[relive_worker::tweak] goes on a function, an `impl` block, an inline module or a `const`",
            )
            .to_compile_error();
        }
    }
    strip_inner(&mut item);
    let mut twins: HashMap<String, Tokens> = HashMap::new();
    relive_tweak::bodies(&mut item, &mut |table, body, inner| {
        let mut all = consts.clone();
        all.extend(inner.iter().cloned());
        match body {
            Body::Fn(block) => {
                let sites = relive_tweak::walk_block(&table, block, &all, &mut Rewrite);
                if !sites.is_empty() {
                    let declared = table_tokens(&table, &sites, &shown);
                    block
                        .stmts
                        .insert(0, syn::Stmt::Item(Item::Verbatim(declared)));
                }
            }
            Body::Const(constant) => {
                let mut expr = (*constant.expr).clone();
                let sites = relive_tweak::walk_expr(&table, &mut expr, &all, &mut Rewrite);
                let declared = table_tokens(&table, &sites, &shown);
                let (vis, name, ty) = (&constant.vis, &constant.ident, &constant.ty);
                constant.attrs.push(syn::parse_quote!(#[allow(dead_code)]));
                twins.insert(
                    table,
                    quote! {
                        #[doc(hidden)]
                        #[allow(non_camel_case_types, dead_code)]
                        #vis struct #name {}
                        #[allow(dead_code)]
                        impl #name {
                            #[doc(hidden)]
                            #[inline(always)]
                            pub fn __relive_get() -> #ty {
                                #declared
                                #expr
                            }
                        }
                    },
                );
            }
        }
    });
    let mut out = quote!(#item);
    if let Item::Const(c) = &item {
        out.extend(twins.remove(&c.ident.to_string()));
    } else if let Item::Mod(module) = &mut item {
        place_twins(module, "", &mut twins);
        out = quote!(#module);
    }
    out
}

/// A method marked by itself.
fn expand_method(mut method: syn::ImplItemFn, consts: &BTreeSet<String>, shown: &str) -> Tokens {
    if let Some(table) = relive_tweak::method_table(&method) {
        let sites = relive_tweak::walk_block(&table, &mut method.block, consts, &mut Rewrite);
        if !sites.is_empty() {
            let declared = table_tokens(&table, &sites, shown);
            method
                .block
                .stmts
                .insert(0, syn::Stmt::Item(Item::Verbatim(declared)));
        }
    }
    quote!(#method)
}

/// Puts each const's twin after it, in the marked module and the modules inside it.
fn place_twins(module: &mut syn::ItemMod, prefix: &str, twins: &mut HashMap<String, Tokens>) {
    let prefix = format!("{prefix}{}::", module.ident);
    let Some((_, items)) = &mut module.content else {
        return;
    };
    let mut placed = Vec::with_capacity(items.len());
    for mut item in items.drain(..) {
        let twin = match &mut item {
            Item::Const(c) => twins.remove(&format!("{prefix}{}", c.ident)),
            Item::Mod(inner) => {
                place_twins(inner, &prefix, twins);
                None
            }
            _ => None,
        };
        placed.push(item);
        if let Some(twin) = twin {
            placed.push(Item::Verbatim(twin));
        }
    }
    *items = placed;
}

/// Removes the attribute from items inside the marked one (the outer expansion numbered them).
fn strip_inner(item: &mut Item) {
    fn strip(attrs: &mut Vec<syn::Attribute>) {
        attrs.retain(|a| !relive_tweak::is_tweak(a));
    }
    match item {
        Item::Impl(imp) => {
            for inner in &mut imp.items {
                if let syn::ImplItem::Fn(f) = inner {
                    strip(&mut f.attrs);
                }
            }
        }
        Item::Mod(module) => {
            for inner in module.content.iter_mut().flat_map(|(_, items)| items) {
                match inner {
                    Item::Fn(f) => strip(&mut f.attrs),
                    Item::Impl(i) => strip(&mut i.attrs),
                    Item::Mod(m) => strip(&mut m.attrs),
                    Item::Const(c) => strip(&mut c.attrs),
                    _ => {}
                }
                strip_inner(inner);
            }
        }
        _ => {}
    }
}

struct Rewrite;

impl Found for Rewrite {
    fn literal(&mut self, expr: &mut Expr, site: &Site) {
        let index = syn::LitInt::new(&format!("{}usize", site.index), Span::mixed_site());
        let original = expr.clone();
        *expr = Expr::Verbatim(if site.nested {
            quote_spanned! {site.span=>
                ::relive_worker::__tweak_get!(__RELIVE_TWEAKS, #index, #original)
            }
        } else {
            // The body read whether any slot of its table is set once, on entry.
            quote_spanned! {site.span=>
                ::relive_worker::__tweak_get_or!(__RELIVE_TWEAKS, __relive_tweaked, #index, #original)
            }
        });
    }

    fn const_use(&mut self, expr: &mut Expr, name: &syn::Ident) {
        *expr = Expr::Verbatim(quote_spanned! {name.span()=>
            ::relive_worker::__tweak_const!(#name)
        });
    }
}

/// A body's table: its name, file, and per literal its kind, line, column and text.
fn table_tokens(table: &str, sites: &[Site], file: &str) -> Tokens {
    let n = syn::LitInt::new(&format!("{}usize", sites.len()), Span::call_site());
    let entries = sites.iter().map(|site| {
        let kind = site.kind.name();
        let text = &site.text;
        // Numbers, not `line!()` at the literal's span: a lint would read that integer's
        // source text as the literal's.
        let at = site.literal_span.unwrap();
        let (line, column) = (at.line() as u32, at.column() as u32);
        quote!((#kind, #line, #column, #text))
    });
    quote! {
        ::relive_worker::__tweak_table!(__RELIVE_TWEAKS, __relive_tweaked, #n, #file, #table, [#(#entries),*]);
    }
}

/// The file the attribute is in: its path, and that path relative to the crate's `Cargo.toml`
/// (the key `cargo relive run` addresses tables by). `None` where the compiler does not say
/// (an IDE's expansion).
fn source_file() -> Option<(PathBuf, String)> {
    let local = proc_macro::Span::call_site().local_file()?;
    let path = if local.is_absolute() {
        local
    } else {
        std::env::current_dir().ok()?.join(local)
    };
    let path = std::fs::canonicalize(&path).unwrap_or(path);
    let shown = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .and_then(|dir| {
            let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
            path.strip_prefix(dir).ok().map(Path::to_owned)
        })
        .unwrap_or_else(|| path.clone());
    Some((path.clone(), shown.to_string_lossy().into_owned()))
}

/// The tweakable consts a file declares at its top level, read once per file and compilation.
fn file_consts(path: &Path) -> BTreeSet<String> {
    type Read = HashMap<PathBuf, (std::time::SystemTime, BTreeSet<String>)>;
    static READ: Mutex<Option<Read>> = Mutex::new(None);
    let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let mut cache = READ.lock().unwrap_or_else(|e| e.into_inner());
    let cache = cache.get_or_insert_with(HashMap::new);
    if let (Some((at, consts)), Some(modified)) = (cache.get(path), modified)
        && *at == modified
    {
        return consts.clone();
    }
    let consts = std::fs::read_to_string(path)
        .map(|text| relive_tweak::tweak_consts_in(&text))
        .unwrap_or_default();
    if let Some(modified) = modified {
        cache.insert(path.to_owned(), (modified, consts.clone()));
    }
    consts
}
