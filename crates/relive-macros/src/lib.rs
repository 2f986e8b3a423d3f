//! `#[relive_worker::context]`: declares the context trait of a relive interface crate and
//! generates what a loop needs to record and replay what the worker reads through it. Use it
//! through `relive_worker`, which re-exports it and documents it.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as Tokens};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{
    Attribute, Expr, ExprArray, ExprPath, FnArg, ItemTrait, Lit, Pat, ReceiverKind, ReturnType,
    Signature, Token, TraitItem, TraitItemFn, Type, Visibility, parse_macro_input,
};

mod tweak;

/// See `relive_worker::tweak`.
#[proc_macro_attribute]
pub fn tweak(attr: TokenStream, item: TokenStream) -> TokenStream {
    tweak::expand(attr.into(), item.into()).into()
}

/// See `relive_worker::context`.
#[proc_macro_attribute]
pub fn context(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut files: Vec<syn::LitStr> = Vec::new();
    let args = syn::meta::parser(|meta| {
        if meta.path.is_ident("files") {
            let list: ExprArray = meta.value()?.parse()?;
            for elem in list.elems {
                match elem {
                    Expr::Lit(syn::ExprLit {
                        lit: Lit::Str(s), ..
                    }) => files.push(s),
                    other => {
                        return Err(syn::Error::new(
                            other.span(),
                            "`files` lists paths as string literals, relative to the crate's \
                             Cargo.toml: `files = [\"src/lib.rs\", \"src/input.rs\"]`",
                        ));
                    }
                }
            }
            Ok(())
        } else {
            Err(meta.error(
                "unknown argument: `#[relive_worker::context]` takes only \
                 `files = [\"src/lib.rs\", ...]`",
            ))
        }
    });
    parse_macro_input!(attr with args);
    let item = parse_macro_input!(item as ItemTrait);
    if files.is_empty() {
        files.push(syn::LitStr::new("src/lib.rs", Span::call_site()));
    }
    match expand(&item, &files) {
        Ok(generated) => quote!(#item #generated).into(),
        Err(e) => {
            let e = e.to_compile_error();
            quote!(#item #e).into()
        }
    }
}

/// What a method is to a loop.
enum Kind {
    /// Returns nothing: always reaches the host.
    Write,
    /// Returns a value that is recorded, then replayed.
    Read(Box<Type>),
    /// Returns something that cannot be recorded, and why (in words after "which").
    Unrecordable(String),
}

fn expand(item: &ItemTrait, files: &[syn::LitStr]) -> syn::Result<Tokens> {
    let name = &item.ident;
    let refuse = |span: Span, what: &str| {
        syn::Error::new(
            span,
            format!(
                "#[relive_worker::context] cannot record `{name}`: {what}; declare it with \
                 `relive_worker::interface!(dyn {name});` instead (loops are then not available)"
            ),
        )
    };
    if !item.generics.params.is_empty() {
        return Err(refuse(item.generics.span(), "the trait is generic"));
    }
    if !item.supertraits.is_empty() {
        return Err(refuse(item.supertraits.span(), "the trait has supertraits"));
    }
    let mut names = Vec::new();
    let mut methods = Vec::new();
    for trait_item in &item.items {
        let f = match trait_item {
            TraitItem::Fn(f) => f,
            TraitItem::Const(c) => return Err(refuse(c.span(), "it has an associated constant")),
            TraitItem::Type(t) => return Err(refuse(t.span(), "it has an associated type")),
            other => return Err(refuse(other.span(), "it has an item other than methods")),
        };
        if only_for_sized(f) && f.default.is_some() {
            // Not callable on the trait object: the wrapper keeps the default body.
            continue;
        }
        let index = u16::try_from(names.len())
            .map_err(|_| refuse(f.span(), "it has more than 65535 methods"))?;
        methods.push(method(name, f, index)?);
        names.push(f.sig.ident.to_string());
    }
    let files = files.iter();
    Ok(quote! {
        impl ::relive_worker::Interface for dyn #name {
            const FINGERPRINT: u64 = ::relive_worker::__fingerprint!(#(#files),*);
            const TAPE: ::core::option::Option<&'static [&'static str]> =
                ::core::option::Option::Some(&[#(#names),*]);

            fn with_tape(
                ctx: &mut Self,
                tape: &::relive_worker::tape::Tape,
                run: &mut dyn ::core::ops::FnMut(&mut Self),
            ) {
                fn erase(
                    taped: &mut ::relive_worker::tape::Taped<dyn #name>,
                ) -> &mut (dyn #name + 'static) {
                    taped
                }
                ::relive_worker::tape::run_taped(ctx, tape, erase, run)
            }
        }

        #[automatically_derived]
        impl #name for ::relive_worker::tape::Taped<dyn #name> {
            #(#methods)*
        }
    })
}

/// `where Self: Sized` on a method.
fn only_for_sized(f: &TraitItemFn) -> bool {
    f.sig.generics.where_clause.as_ref().is_some_and(|w| {
        w.predicates.iter().any(|p| {
            let p = p.to_token_stream().to_string();
            p.replace(' ', "") == "Self:Sized"
        })
    })
}

fn method(trait_name: &syn::Ident, f: &TraitItemFn, index: u16) -> syn::Result<Tokens> {
    let sig = &f.sig;
    let ident = &sig.ident;
    let unsupported = |span: Span, what: &str| {
        syn::Error::new(
            span,
            format!(
                "#[relive_worker::context]: `{ident}` {what}, which the recording wrapper does not support"
            ),
        )
    };
    if sig.asyncness.is_some() || sig.constness.is_some() || sig.abi.is_some() {
        return Err(unsupported(sig.span(), "is async, const or extern"));
    }
    if !matches!(sig.safety, syn::Safety::Default) {
        return Err(unsupported(sig.span(), "is unsafe"));
    }
    if sig.generics.type_params().next().is_some() || sig.generics.const_params().next().is_some() {
        return Err(unsupported(sig.generics.span(), "has type parameters"));
    }
    let mut inputs = sig.inputs.iter();
    let (receiver, mutable) = match inputs.next() {
        Some(FnArg::Receiver(r)) => match &r.kind {
            ReceiverKind::Reference(and, lifetime, mutability) => (
                quote!(#and #lifetime #mutability self),
                mutability.is_some(),
            ),
            _ => return Err(unsupported(r.span(), "takes `self` by value or by type")),
        },
        _ => {
            return Err(unsupported(
                sig.span(),
                "takes no `&self` or `&mut self` (the context is a trait object)",
            ));
        }
    };
    let mut args = Vec::new();
    let mut types = Vec::new();
    let mut kind = match &sig.output {
        ReturnType::Default => Kind::Write,
        ReturnType::Type(_, ty) if is_unit(ty) => Kind::Write,
        ReturnType::Type(_, ty) if borrows(ty) => Kind::Unrecordable(format!(
            "returns `{}`, a borrowed or opaque value",
            ty.to_token_stream()
        )),
        ReturnType::Type(_, ty) => Kind::Read(ty.clone()),
    };
    for (i, arg) in inputs.enumerate() {
        let FnArg::Typed(arg) = arg else {
            return Err(unsupported(arg.span(), "has a second `self`"));
        };
        if let Type::Reference(r) = &*arg.ty
            && r.mutability.is_some()
        {
            kind = Kind::Unrecordable(format!(
                "takes `{}: {}`, which the host may write into",
                arg.pat.to_token_stream(),
                arg.ty.to_token_stream()
            ));
        }
        args.push(format_ident!("__relive_arg{i}"));
        types.push(arg.ty.clone());
    }
    let generics = &sig.generics;
    let where_clause = &sig.generics.where_clause;
    let output = &sig.output;
    let cfgs = f.attrs.iter().filter(|a| a.path().is_ident("cfg"));
    let inner = if mutable {
        quote!(self.inner_mut())
    } else {
        quote!(self.inner())
    };
    let call = quote!(<dyn #trait_name as #trait_name>::#ident(#inner, #(#args),*));
    let body = match kind {
        Kind::Write => call,
        Kind::Unrecordable(why) => quote! {
            self.tape().read_unrecordable(#index, #why);
            #call
        },
        Kind::Read(ty) => recorded_read(
            &ty,
            index,
            &quote!(::relive_worker::tape),
            &quote!(self.tape()),
            &call,
        ),
    };
    Ok(quote! {
        #(#cfgs)*
        #[inline(never)]
        fn #ident #generics (#receiver, #(#args: #types),*) #output #where_clause {
            #body
        }
    })
}

/// The body of a read that is recorded: the tape's value while a loop plays, else `call`'s,
/// recorded while a loop records. `krate` is the path to relive-tape, `tape` an expression of
/// `&Tape`. The probe picks at compile time whether `ty` has serde's traits.
fn recorded_read(ty: &Type, index: u16, krate: &Tokens, tape: &Tokens, call: &Tokens) -> Tokens {
    quote_spanned! {ty.span()=>
        #[allow(unused_imports)]
        use #krate::{NotSerde as _, ViaSerde as _};
        let probe = &#krate::Probe::<#ty>::NEW;
        if let ::core::option::Option::Some(value) = probe.replayed(#tape, #index) {
            return value;
        }
        let value = #call;
        probe.record(#tape, #index, &value);
        value
    }
}

fn is_unit(ty: &Type) -> bool {
    matches!(ty, Type::Tuple(t) if t.elems.is_empty())
}

/// Whether a return type borrows (`&`), is opaque (`impl`, `dyn`) or names `Self`: not a value
/// the tape can hand back.
fn borrows(ty: &Type) -> bool {
    fn walk(tokens: Tokens) -> bool {
        tokens.into_iter().any(|t| match t {
            proc_macro2::TokenTree::Punct(p) => p.as_char() == '&' || p.as_char() == '\'',
            proc_macro2::TokenTree::Ident(i) => i == "impl" || i == "dyn" || i == "Self",
            proc_macro2::TokenTree::Group(g) => walk(g.stream()),
            proc_macro2::TokenTree::Literal(_) => false,
        })
    }
    walk(ty.to_token_stream())
}

/// One `fn name(args) -> T = path::to::engine_fn;` of `reads!`.
struct ReadFn {
    attrs: Vec<Attribute>,
    vis: Visibility,
    sig: Signature,
    path: ExprPath,
}

struct ReadFns(Vec<ReadFn>);

impl Parse for ReadFns {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut fns = Vec::new();
        while !input.is_empty() {
            let attrs = input.call(Attribute::parse_outer)?;
            let vis = input.parse()?;
            let sig = input.parse()?;
            input.parse::<Token![=]>()?;
            let path = input.parse()?;
            input.parse::<Token![;]>()?;
            fns.push(ReadFn {
                attrs,
                vis,
                sig,
                path,
            });
        }
        Ok(ReadFns(fns))
    }
}

/// Takes `#[input(keyboard)]` / `#[input(pointer)]` out of a read's attributes: the kind of
/// input it is, as `relive_tape`'s capture bits.
fn input_kind(attrs: &[Attribute]) -> syn::Result<(Vec<Attribute>, Option<u8>)> {
    let mut kept = Vec::new();
    let mut bits = None;
    for attr in attrs {
        if !attr.path().is_ident("input") {
            kept.push(attr.clone());
            continue;
        }
        let kind: syn::Ident = attr.parse_args()?;
        bits = Some(match kind.to_string().as_str() {
            "keyboard" => 1u8,
            "pointer" => 2u8,
            _ => {
                return Err(syn::Error::new(
                    kind.span(),
                    "relive_tape::reads!: `#[input(..)]` takes `keyboard` or `pointer`",
                ));
            }
        });
    }
    Ok((kept, bits))
}

/// See `relive_tape::reads`.
#[proc_macro]
pub fn reads(input: TokenStream) -> TokenStream {
    let ReadFns(fns) = parse_macro_input!(input as ReadFns);
    match expand_reads(&fns) {
        Ok(t) => t.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn expand_reads(fns: &[ReadFn]) -> syn::Result<Tokens> {
    let slot = format_ident!("__RELIVE_READS_SLOT");
    let captured = format_ident!("__RELIVE_READS_CAPTURED");
    let mut names = Vec::new();
    let mut wrappers = Vec::new();
    for (index, f) in fns.iter().enumerate() {
        let index = u16::try_from(index)
            .map_err(|_| syn::Error::new(f.sig.span(), "more than 65535 reads"))?;
        let sig = &f.sig;
        let ident = &sig.ident;
        let wrong = |span: Span, what: &str| {
            syn::Error::new(
                span,
                format!(
                    "relive_tape::reads!: `{ident}` {what}: a read is a plain function that returns a value"
                ),
            )
        };
        if sig.generics.type_params().next().is_some()
            || sig.generics.const_params().next().is_some()
        {
            return Err(wrong(sig.generics.span(), "is generic"));
        }
        if sig.asyncness.is_some() || sig.constness.is_some() {
            return Err(wrong(sig.span(), "is async or const"));
        }
        let mut args = Vec::new();
        let mut why = None;
        for arg in &sig.inputs {
            let FnArg::Typed(arg) = arg else {
                return Err(wrong(arg.span(), "takes `self`"));
            };
            let Pat::Ident(name) = &*arg.pat else {
                return Err(wrong(
                    arg.pat.span(),
                    "takes an argument that is not a plain name",
                ));
            };
            if let Type::Reference(r) = &*arg.ty
                && r.mutability.is_some()
            {
                why = Some(format!(
                    "takes `{}: {}`, which the engine may write into",
                    name.ident,
                    arg.ty.to_token_stream()
                ));
            }
            args.push(name.ident.clone());
        }
        let ty = match &sig.output {
            ReturnType::Type(_, ty) if !is_unit(ty) => ty,
            _ => return Err(wrong(sig.span(), "returns nothing (only reads are listed)")),
        };
        if borrows(ty) {
            why = Some(format!(
                "returns `{}`, a borrowed or opaque value",
                ty.to_token_stream()
            ));
        }
        let path = &f.path;
        let live = quote!(#path(#(#args),*));
        let (attrs, input) = input_kind(&f.attrs)?;
        // While an inspector panel has this kind of input, the game reads "nothing happened".
        let call = match input {
            Some(bits) => quote! {
                if ::relive_tape::EngineReads::is_captured(&#captured, #bits) {
                    ::core::default::Default::default()
                } else {
                    #live
                }
            },
            None => live.clone(),
        };
        let on_tape = match why {
            Some(why) => quote! {
                tape.read_unrecordable(#index, #why);
                #call
            },
            None => recorded_read(ty, index, &quote!(::relive_tape), &quote!(tape), &call),
        };
        let vis = &f.vis;
        wrappers.push(quote! {
            #(#attrs)*
            #[inline]
            #vis #sig {
                ::relive_tape::__engine_read!(
                    slot: #slot, live: #live, input: #call, taped: |tape| { #on_tape }
                )
            }
        });
        names.push(ident.to_string());
    }
    Ok(quote! {
        ::std::thread_local! {
            #[doc(hidden)]
            pub static #slot: ::core::cell::Cell<*const ::relive_tape::Tape> =
                const { ::core::cell::Cell::new(::core::ptr::null()) };
        }

        #[doc(hidden)]
        pub static #captured: ::core::sync::atomic::AtomicU8 =
            ::core::sync::atomic::AtomicU8::new(0);

        /// The engine reads this module wraps, for the host: `Worker::record_reads`, and an
        /// inspector's `EngineReads::capture`.
        pub static RELIVE_READS: ::relive_tape::EngineReads =
            ::relive_tape::EngineReads::new(&[#(#names),*], &#slot, &#captured);

        #(#wrappers)*
    })
}
