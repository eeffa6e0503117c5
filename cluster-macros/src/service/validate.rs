//! Validation: the rules a service trait must follow, each reported at the
//! span that breaks it. Every violation is collected before giving up.

use std::collections::HashMap;

use syn::spanned::Spanned;
use syn::{Attribute, FnArg, Ident, ItemTrait, Pat, ReceiverKind, ReturnType, Safety, Type};

use super::parse::{Codec, Method, Service};
use crate::errors::Errors;

/// A service that follows every rule, ready for generation.
pub(crate) struct Checked {
    pub(crate) codec: Codec,
    /// The trait, for its name, visibility, attributes and supertraits.
    pub(crate) item: ItemTrait,
    pub(crate) methods: Vec<CheckedMethod>,
}

pub(crate) struct CheckedMethod {
    pub(crate) attrs: Vec<Attribute>,
    /// The method's `#[cfg(...)]` attributes, also among `attrs`: every
    /// item generated for the method carries them, so that a method
    /// compiled out leaves no command, table entry or dispatch arm behind.
    pub(crate) cfgs: Vec<Attribute>,
    pub(crate) ident: Ident,
    pub(crate) args: Vec<(Ident, Type)>,
    /// The declared return type; `()` for one-way methods.
    pub(crate) output: Type,
    pub(crate) oneway: bool,
    pub(crate) cmd: Option<u32>,
    /// With `#[remote_error]`: the `T` of its `Result<T, E>`, the only
    /// part that travels as a value.
    pub(crate) remote_ok: Option<Type>,
}

/// Names the generated client defines itself, so no method may take them.
const RESERVED: &[&str] = &["new", "from_caller", "with_timeout", "peer", "commands"];

pub(crate) fn validate(service: Service) -> syn::Result<Checked> {
    let Service {
        codec,
        mut errors,
        item,
        methods,
    } = service;
    if let Some(span) = generics_span(&item.generics) {
        errors.push(syn::Error::new(
            span,
            "a service trait cannot be generic: its messages must have one wire form",
        ));
    }
    if methods.is_empty() && item.items.is_empty() {
        errors.push(syn::Error::new(
            item.ident.span(),
            "a service needs at least one method",
        ));
    }
    let mut checked = Vec::new();
    let mut ids: HashMap<u32, &Ident> = HashMap::new();
    let mut consts: HashMap<String, &Ident> = HashMap::new();
    for method in &methods {
        let ident = &method.item.sig.ident;
        if let Some(cmd) = &method.cmd {
            if let Some(first) = ids.insert(cmd.id, ident) {
                errors.push(syn::Error::new(
                    cmd.span,
                    format!("command id {} is already used by `{first}`", cmd.id),
                ));
            }
        }
        if RESERVED.iter().any(|r| ident == r) {
            errors.push(syn::Error::new(
                ident.span(),
                format!("`{ident}` is reserved: the generated client defines it"),
            ));
        }
        let constant = ident.to_string().to_uppercase();
        if let Some(first) = consts.insert(constant.clone(), ident) {
            errors.push(syn::Error::new(
                ident.span(),
                format!(
                    "`{ident}` and `{first}` would both name the command constant `{constant}`"
                ),
            ));
        }
        if let Some(method) = check_method(method, &codec, &mut errors) {
            checked.push(method);
        }
    }
    errors.finish(())?;
    Ok(Checked {
        codec,
        item,
        methods: checked,
    })
}

fn check_method(method: &Method, codec: &Codec, errors: &mut Errors) -> Option<CheckedMethod> {
    let sig = &method.item.sig;
    let before = errors.count();
    if sig.asyncness.is_none() {
        errors.push(syn::Error::new(
            sig.fn_token.span,
            "service methods must be `async fn`",
        ));
    }
    if let Some(span) = generics_span(&sig.generics) {
        errors.push(syn::Error::new(
            span,
            "service methods cannot be generic: a command has one wire form",
        ));
    }
    let unsafety = match sig.safety {
        Safety::Unsafe(token) => Some(token.span),
        _ => None,
    };
    if let Some(token) = sig.constness.map(|t| t.span).or(unsafety) {
        errors.push(syn::Error::new(
            token,
            "service methods cannot be `const` or `unsafe`",
        ));
    }
    if let Some(body) = &method.item.default {
        errors.push(syn::Error::new(
            body.span(),
            "service methods have no default body",
        ));
    }

    let mut inputs = sig.inputs.iter();
    match inputs.next() {
        Some(FnArg::Receiver(recv))
            if matches!(recv.kind, ReceiverKind::Reference(_, _, None))
                && recv.mutability.is_none() => {}
        Some(FnArg::Receiver(recv)) => {
            let mutability = match &recv.kind {
                ReceiverKind::Reference(_, _, mutability) => *mutability,
                _ => None,
            };
            errors.push(syn::Error::new(
                mutability
                    .or(recv.mutability)
                    .map_or(recv.self_token.span, |m| m.span),
                "service methods take `&self`: requests are served concurrently on one shared service",
            ))
        }
        _ => errors.push(syn::Error::new(
            sig.paren_token.span.join(),
            "service methods take `&self` first",
        )),
    }
    let mut args = Vec::new();
    for input in inputs {
        let FnArg::Typed(arg) = input else { continue };
        match &*arg.pat {
            Pat::Ident(pat) if pat.by_ref.is_none() && pat.mutability.is_none() && pat.subpat.is_none() => {
                check_owned(&arg.ty, errors);
                args.push((pat.ident.clone(), (*arg.ty).clone()));
            }
            pat => errors.push(syn::Error::new(
                pat.span(),
                "service method arguments must be plain names (no `mut`, `ref` or patterns): the client reuses them",
            )),
        }
    }
    if matches!(codec, Codec::Zproto) && sig.inputs.len() != 2 {
        errors.push(syn::Error::new(
            sig.inputs.span(),
            "methods of a zproto service take exactly one argument: the request message",
        ));
    }

    let unit: Type = syn::parse_quote!(());
    let output = match (&sig.output, method.oneway) {
        (ReturnType::Type(_, ty), None) => {
            check_owned(ty, errors);
            (**ty).clone()
        }
        (ReturnType::Default, None) => {
            errors.push(syn::Error::new(
                sig.paren_token.span.close(),
                "a method that is not `#[oneway]` must declare what it returns; write `-> ()` to wait for an acknowledgement",
            ));
            unit
        }
        (ReturnType::Type(_, ty), Some(_)) if !is_unit(ty) => {
            errors.push(syn::Error::new(
                ty.span(),
                "a `#[oneway]` method returns nothing: nobody waits for its response",
            ));
            unit
        }
        (_, Some(_)) => unit,
    };
    let remote_ok = method.remote_error.and_then(|span| {
        let ok = result_ok(&output);
        if ok.is_none() {
            errors.push(syn::Error::new(
                span,
                "`#[remote_error]` is for a method that returns `Result<T, E>`",
            ));
        }
        ok
    });
    (errors.count() == before).then(|| CheckedMethod {
        attrs: method.item.attrs.clone(),
        cfgs: method
            .item
            .attrs
            .iter()
            .filter(|attr| attr.path().is_ident("cfg"))
            .cloned()
            .collect(),
        ident: sig.ident.clone(),
        args,
        output,
        oneway: method.oneway.is_some(),
        cmd: method.cmd.as_ref().map(|c| c.id),
        remote_ok,
    })
}

/// The `T` of a `Result<T, E>` (by its last path segment, as written).
fn result_ok(ty: &Type) -> Option<Type> {
    let Type::Path(path) = ty else {
        return None;
    };
    let last = path.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.iter().collect::<Vec<_>>()[..] {
        [
            syn::GenericArgument::Type(ok),
            syn::GenericArgument::Type(_),
        ] => Some(ok.clone()),
        _ => None,
    }
}

fn is_unit(ty: &Type) -> bool {
    matches!(ty, Type::Tuple(tuple) if tuple.elems.is_empty())
}

/// Where generic parameters or a `where` clause are, if there are any.
fn generics_span(generics: &syn::Generics) -> Option<proc_macro2::Span> {
    if !generics.params.is_empty() {
        Some(generics.span())
    } else {
        generics.where_clause.as_ref().map(|w| w.where_token.span)
    }
}

/// Requests and responses are decoded into fresh values, so the types a
/// service carries cannot borrow.
fn check_owned(ty: &Type, errors: &mut Errors) {
    if let Some(borrow) = find_borrow(ty) {
        errors.push(syn::Error::new(
            borrow,
            "service arguments and results must be owned types (`String`, not `&str`): they are decoded into fresh values",
        ));
    }
}

/// Where `ty` borrows: a reference or a lifetime anywhere inside it.
fn find_borrow(ty: &Type) -> Option<proc_macro2::Span> {
    match ty {
        Type::Reference(r) => Some(r.and_token.span),
        Type::Tuple(t) => t.elems.iter().find_map(find_borrow),
        Type::Array(a) => find_borrow(&a.elem),
        Type::Slice(s) => find_borrow(&s.elem),
        Type::Paren(p) => find_borrow(&p.elem),
        Type::Group(g) => find_borrow(&g.elem),
        Type::Path(p) => p
            .path
            .segments
            .iter()
            .find_map(|segment| match &segment.arguments {
                syn::PathArguments::AngleBracketed(args) => {
                    args.args.iter().find_map(|arg| match arg {
                        syn::GenericArgument::Lifetime(l) => Some(l.apostrophe),
                        syn::GenericArgument::Type(t) => find_borrow(t),
                        _ => None,
                    })
                }
                _ => None,
            }),
        _ => None,
    }
}
