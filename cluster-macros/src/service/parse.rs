//! Parsing: the attribute arguments and the trait, into plain structs. Only
//! syntax is checked here; the service rules are in `validate`.

use proc_macro2::{Span, TokenStream};
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{Attribute, ItemTrait, LitInt, Path, Token, TraitItem, TraitItemFn};

use crate::errors::Errors;

/// Which codec encodes the service's messages.
pub(crate) enum Codec {
    /// serde + bincode; arguments travel as a tuple.
    Bincode,
    /// zproto; each method takes one request message.
    Zproto,
    /// Any other codec type; arguments travel as a tuple.
    Other(Path),
}

pub(crate) struct Service {
    pub(crate) codec: Codec,
    /// Malformed attributes and items, reported with the rule violations.
    pub(crate) errors: Errors,
    /// The trait with `#[cmd]`/`#[oneway]` removed from its methods.
    pub(crate) item: ItemTrait,
    pub(crate) methods: Vec<Method>,
}

pub(crate) struct Method {
    /// The method as written, minus `#[cmd]`/`#[oneway]`.
    pub(crate) item: TraitItemFn,
    pub(crate) cmd: Option<Cmd>,
    pub(crate) oneway: Option<Span>,
    /// `#[remote_error]`: an `Err` is sent as an application status.
    pub(crate) remote_error: Option<Span>,
}

pub(crate) struct Cmd {
    pub(crate) id: u32,
    pub(crate) span: Span,
}

struct Args {
    codec: Codec,
}

impl Parse for Args {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut codec = Codec::Bincode;
        while !input.is_empty() {
            let key: syn::Ident = input.parse()?;
            if key != "codec" {
                return Err(syn::Error::new(
                    key.span(),
                    "unknown argument; expected `codec = ...`",
                ));
            }
            input.parse::<Token![=]>()?;
            let path: Path = input.parse()?;
            codec = if path.is_ident("bincode") || path.is_ident("Bincode") {
                Codec::Bincode
            } else if path.is_ident("zproto") || path.is_ident("Zproto") {
                Codec::Zproto
            } else {
                Codec::Other(path)
            };
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        Ok(Self { codec })
    }
}

/// Parses the arguments and the trait. Malformed `#[cmd]`/`#[oneway]` and
/// non-method items are collected, not fatal, so that every mistake is
/// reported at once.
pub(crate) fn parse(args: TokenStream, item: TokenStream) -> syn::Result<Service> {
    let args: Args = syn::parse2(args)?;
    let mut item: ItemTrait = syn::parse2(item)?;
    let mut errors = Errors::default();
    let mut report = |e: syn::Error| errors.push(e);
    let mut methods = Vec::new();
    for trait_item in &mut item.items {
        let TraitItem::Fn(method) = trait_item else {
            report(syn::Error::new(
                trait_item.span(),
                "a service trait holds only methods",
            ));
            continue;
        };
        let mut cmd = None;
        let mut oneway = None;
        let mut remote_error = None;
        let mut kept = Vec::new();
        for attr in method.attrs.drain(..) {
            if attr.path().is_ident("cmd") {
                match parse_cmd(&attr) {
                    Ok(parsed) if cmd.is_none() => cmd = Some(parsed),
                    Ok(parsed) => report(syn::Error::new(parsed.span, "duplicate `#[cmd]`")),
                    Err(e) => report(e),
                }
            } else if attr.path().is_ident("oneway") {
                if let Err(e) = set_flag(&attr, &mut oneway, "oneway") {
                    report(e);
                }
            } else if attr.path().is_ident("remote_error") {
                if let Err(e) = set_flag(&attr, &mut remote_error, "remote_error") {
                    report(e);
                }
            } else {
                kept.push(attr);
            }
        }
        method.attrs = kept;
        methods.push(Method {
            item: method.clone(),
            cmd,
            oneway,
            remote_error,
        });
    }
    Ok(Service {
        codec: args.codec,
        errors,
        item,
        methods,
    })
}

/// Records a bare flag attribute such as `#[oneway]` in `flag`, at most once.
fn set_flag(attr: &Attribute, flag: &mut Option<Span>, name: &str) -> syn::Result<()> {
    attr.meta.require_path_only()?;
    if flag.is_some() {
        return Err(syn::Error::new(
            attr.span(),
            format!("duplicate `#[{name}]`"),
        ));
    }
    *flag = Some(attr.span());
    Ok(())
}

fn parse_cmd(attr: &Attribute) -> syn::Result<Cmd> {
    let lit: LitInt = attr.parse_args().map_err(|e| {
        syn::Error::new(e.span(), "expected `#[cmd(N)]` with an integer command id")
    })?;
    let id = lit
        .base10_parse::<u32>()
        .map_err(|_| syn::Error::new(lit.span(), "a command id is a u32"))?;
    Ok(Cmd {
        id,
        span: lit.span(),
    })
}
