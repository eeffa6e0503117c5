//! Generation: the templates of everything `#[service]` emits, one method
//! per item. Generated code names items only by absolute paths, and its
//! local variables are hygienic, so user names can neither break nor
//! shadow it.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, Type};

use super::parse::Codec;
use super::validate::{Checked, CheckedMethod};

pub(crate) fn generate(service: &Checked) -> TokenStream {
    let g = Generator::new(service);
    let items = [g.trait_def(), g.client(), g.server()];
    quote!(#(#items)*)
}

struct Generator<'a> {
    service: &'a Checked,
    client: Ident,
    server: Ident,
    /// The server's response enum (see [`Generator::response_enum`]).
    response: Ident,
    codec: TokenStream,
}

impl<'a> Generator<'a> {
    fn new(service: &'a Checked) -> Self {
        let name = &service.item.ident;
        let codec = match &service.codec {
            Codec::Bincode => quote!(::cluster::__private::cluster_codec::Bincode),
            Codec::Zproto => quote!(::cluster::__private::cluster_codec::Zproto),
            Codec::Other(path) => quote!(#path),
        };
        Self {
            service,
            client: format_ident!("{name}Client"),
            server: format_ident!("{name}Server"),
            response: format_ident!("__{name}Response"),
            codec,
        }
    }

    /// The trait, with each `async fn` turned into a method returning a
    /// `Send` future, so the server can run it in a spawned task.
    fn trait_def(&self) -> TokenStream {
        let item = &self.service.item;
        let (attrs, vis, name) = (&item.attrs, &item.vis, &item.ident);
        let supertraits = item.supertraits.iter();
        let methods = self.service.methods.iter().map(|m| {
            let (attrs, ident, output) = (&m.attrs, &m.ident, &m.output);
            let args = m.args.iter().map(|(arg, ty)| quote!(#arg: #ty));
            quote! {
                #(#attrs)*
                fn #ident(&self, #(#args),*)
                    -> impl ::core::future::Future<Output = #output> + ::core::marker::Send;
            }
        });
        quote! {
            #(#attrs)*
            #vis trait #name: #(#supertraits +)* ::core::marker::Send + ::core::marker::Sync + 'static {
                #(#methods)*
            }
        }
    }

    fn client(&self) -> TokenStream {
        let client = &self.client;
        let name = &self.service.item.ident;
        let vis = &self.service.item.vis;
        let doc = format!(
            "Typed client of the [`{name}`] service, over a [`cluster::Peer`](::cluster::Peer) \
             or another [`CallTarget`](::cluster::CallTarget) `T`.\n\n\
             Clones are cheap and share the target."
        );
        let ids = self.service.methods.iter().map(|m| {
            let (cfgs, constant) = (&m.cfgs, command_const(m));
            let id = self.command_id(m);
            let doc = format!("Command id of `{}`.", m.ident);
            quote!(#(#cfgs)* #[doc = #doc] pub const #constant: u32 = #id;)
        });
        let table = self.service.methods.iter().map(|m| {
            let (cfgs, constant) = (&m.cfgs, command_const(m));
            let (method, oneway) = (m.ident.to_string(), m.oneway);
            quote!(#(#cfgs)* ::cluster::Command { name: #method, id: Self::#constant, oneway: #oneway })
        });
        let methods = self.service.methods.iter().map(|m| self.client_method(m));
        // Explicit duplicates were reported with their spans already; this
        // catches the rest (zproto tags, an explicit id equal to a default).
        let duplicate = format!("two methods of `{name}` share a command id");
        let unique = quote_spanned! {name.span()=>
            const _: () = ::core::assert!(
                !::cluster::CommandTable::Service(<#client>::COMMANDS).has_duplicate_ids(),
                #duplicate
            );
        };
        let service = name.to_string();
        quote! {
            #[doc = #doc]
            #[derive(::core::clone::Clone, ::core::fmt::Debug)]
            #vis struct #client<T = ::cluster::Peer> {
                target: T,
                timeout: ::core::option::Option<::core::time::Duration>,
            }

            // The ids, the table and the peer-only constructors live on the
            // default `T = Peer`, so that `CalcClient::ADD` and
            // `CalcClient::from_caller()` need no type annotation.
            impl #client {
                #(#ids)*

                /// The service (trait) name.
                pub const SERVICE: &'static str = #service;

                /// Every command of the service: name, id, one-way or not.
                pub const COMMANDS: &'static [::cluster::Command] = &[#(#table),*];

                /// A client of the peer whose request the current task is
                /// handling: calls back over the same connection.
                pub fn from_caller() -> ::core::option::Option<Self> {
                    ::cluster::context::peer().map(Self::new)
                }

                /// The peer calls go through.
                pub fn peer(&self) -> &::cluster::Peer {
                    &self.target
                }
            }

            impl<T: ::cluster::CallTarget> #client<T> {
                /// A client calling through `target`: a
                /// [`Peer`](::cluster::Peer), or any other
                /// [`CallTarget`](::cluster::CallTarget).
                pub fn new(target: T) -> Self {
                    Self { target, timeout: ::core::option::Option::None }
                }

                /// The same client with a per-call timeout instead of the node's.
                pub fn with_timeout(mut self, timeout: ::core::time::Duration) -> Self {
                    self.timeout = ::core::option::Option::Some(timeout);
                    self
                }

                /// The target calls go through.
                pub fn target(&self) -> &T {
                    &self.target
                }

                #(#methods)*
            }

            #unique
        }
    }

    /// A client method: calls or sends the request (the server's shape,
    /// see [`request_type`], encoded as its frame is written), decodes the
    /// response. Its `where`
    /// clause names every type the codec must carry, at the type's own span:
    /// a type the codec cannot carry is reported there, once, and the body
    /// type-checks regardless.
    fn client_method(&self, m: &CheckedMethod) -> TokenStream {
        let (attrs, ident, output, codec) = (&m.attrs, &m.ident, &m.output, &self.codec);
        let client = &self.client;
        let method = ident.to_string();
        let name = quote!(::cluster::RpcName { service: <#client>::SERVICE, method: #method });
        let constant = command_const(m);
        let args = m.args.iter().map(|(arg, ty)| quote!(#arg: #ty));
        let body = Ident::new("body", Span::mixed_site());
        let request = request_type(&self.service.codec, m);
        let value = request_value(&self.service.codec, m);
        let mut bounds = vec![self.request_bound(m, "Encode")];
        let (returns, send) = if m.oneway {
            (
                quote!(()),
                quote!(::cluster::__private::send(&self.target, #name, <#client>::#constant, #body)),
            )
        } else {
            let call = match &m.remote_ok {
                // The error came as a status: it is the call's error.
                Some(ok) => {
                    bounds.push(self.bound(ok, "Decode"));
                    quote!(::cluster::__private::call_ok::<#codec, #ok, T, _>(&self.target, #name, <#client>::#constant, #body, self.timeout))
                }
                None => {
                    bounds.push(self.bound(output, "Decode"));
                    quote!(::cluster::__private::call::<#codec, #output, T>(&self.target, #name, <#client>::#constant, #body, self.timeout))
                }
            };
            (quote!(#output), call)
        };
        // Not an `async fn`: the arguments go into the body at once, so the
        // future holds them once, and is the stub's own, not one more
        // state machine around it.
        quote! {
            #(#attrs)*
            pub fn #ident(&self, #(#args),*) -> impl ::core::future::Future<
                Output = ::core::result::Result<#returns, <T as ::cluster::CallTarget>::Error>,
            >
            where
                #(#bounds,)*
            {
                // Encoded when its frame is written, into the write buffer.
                let #body = ::cluster::__private::Encoded::<#codec, #request>::new(#value);
                #send
            }
        }
    }

    /// `ty: Encode<codec>` (or `Decode`), spanned at `ty`.
    fn bound(&self, ty: &Type, which: &str) -> TokenStream {
        self.bound_at(quote!(#ty), ty.span(), which)
    }

    /// `ty: Encode<codec>` (or `Decode`), spanned at `span`.
    fn bound_at(&self, ty: TokenStream, span: Span, which: &str) -> TokenStream {
        let (codec, which) = (&self.codec, Ident::new(which, span));
        quote_spanned!(span=> #ty: ::cluster::__private::cluster_codec::#which<#codec>)
    }

    fn server(&self) -> TokenStream {
        let (name, server, client) = (&self.service.item.ident, &self.server, &self.client);
        let vis = &self.service.item.vis;
        let doc = format!(
            "Serves the [`{name}`] service with an implementation `S`: give it to \
             [`NodeBuilder::handler`](::cluster::NodeBuilder::handler), or mount it \
             with other services on a [`Router`](::cluster::Router)."
        );
        let service = Ident::new("service", Span::mixed_site());
        let req = Ident::new("req", Span::mixed_site());
        let known = self.service.methods.iter().map(|m| {
            let (cfgs, constant) = (&m.cfgs, command_const(m));
            quote!(#(#cfgs)* <#client>::#constant => {})
        });
        let arms = self
            .service
            .methods
            .iter()
            .map(|m| self.server_arm(m, &service, &req));
        // A `where` predicate cannot carry a `#[cfg]` (not before Rust
        // 1.88), so a method under one gets no bounds here: its arm is
        // checked where it stands, and its client method already reports a
        // type the codec cannot carry at the type's span.
        let bounds: Vec<TokenStream> = self
            .service
            .methods
            .iter()
            .filter(|m| m.cfgs.is_empty())
            .flat_map(|m| {
                let response = (!m.oneway)
                    .then(|| self.bound(m.remote_ok.as_ref().unwrap_or(&m.output), "Encode"));
                std::iter::once(self.request_bound(m, "Decode")).chain(response)
            })
            .collect();
        let handler_bounds = &bounds;
        let response = self.response_enum(&bounds);
        let response_ty = &self.response;
        quote! {
            #response

            #[doc = #doc]
            #vis struct #server<S> {
                service: ::std::sync::Arc<S>,
            }

            impl<S> ::core::clone::Clone for #server<S> {
                fn clone(&self) -> Self {
                    Self { service: ::core::clone::Clone::clone(&self.service) }
                }
            }

            impl<S: #name> #server<S> {
                /// Serves with `service`.
                pub fn new(service: S) -> Self {
                    Self::from_arc(::std::sync::Arc::new(service))
                }

                /// Serves with a shared `service`.
                pub fn from_arc(service: ::std::sync::Arc<S>) -> Self {
                    Self { service }
                }
            }

            impl<S: #name> ::cluster::Service for #server<S>
            where
                #(#bounds,)*
            {
                const COMMANDS: ::cluster::CommandTable = ::cluster::CommandTable::Service(<#client>::COMMANDS);

                // With every method compiled out, all requests are handed back.
                #[allow(unreachable_code)]
                fn serve(
                    &self,
                    #req: ::cluster::Request,
                ) -> ::core::result::Result<
                    impl ::core::future::Future<Output = ::core::option::Option<#response_ty>>
                        + ::core::marker::Send
                        + 'static,
                    ::cluster::Request,
                > {
                    match #req.cmd {
                        #(#known)*
                        _ => return ::core::result::Result::Err(#req),
                    }
                    let #service = ::core::clone::Clone::clone(&self.service);
                    ::core::result::Result::Ok(async move {
                        match #req.cmd {
                            #(#arms)*
                            _ => ::core::option::Option::None,
                        }
                    })
                }

                fn method_name(cmd: u32) -> ::core::option::Option<::cluster::RpcName> {
                    ::cluster::__private::method_name(<#client>::SERVICE, <#client>::COMMANDS, cmd)
                }
            }

            impl<S: #name> ::cluster::Handler for #server<S>
            where
                #(#handler_bounds,)*
            {
                fn handle(
                    &self,
                    req: ::cluster::Request,
                ) -> impl ::core::future::Future<
                    Output = ::core::option::Option<impl ::cluster::Body + ::core::marker::Send + 'static>,
                > + ::core::marker::Send
                       + 'static {
                    ::cluster::__private::handle(self, req)
                }

                fn is_oneway(&self, cmd: u32) -> bool {
                    <Self as ::cluster::Service>::COMMANDS.is_oneway(cmd)
                }

                fn method_name(&self, cmd: u32) -> ::core::option::Option<::cluster::RpcName> {
                    <Self as ::cluster::Service>::method_name(cmd)
                }
            }
        }
    }

    /// The server's response: one variant per method that answers, holding
    /// the value until its frame is written, when it is encoded straight
    /// into the connection's write buffer. `bounds` are the server's.
    fn response_enum(&self, bounds: &[TokenStream]) -> TokenStream {
        let (response, codec) = (&self.response, &self.codec);
        let answering: Vec<&CheckedMethod> =
            self.service.methods.iter().filter(|m| !m.oneway).collect();
        let variants = answering.iter().map(|m| {
            let (cfgs, ident) = (&m.cfgs, &m.ident);
            let ty = m.remote_ok.as_ref().unwrap_or(&m.output);
            quote!(#(#cfgs)* #ident(#ty))
        });
        let arms = answering.iter().map(|m| {
            let (cfgs, ident) = (&m.cfgs, &m.ident);
            let ty = m.remote_ok.as_ref().unwrap_or(&m.output);
            quote! {
                #(#cfgs)*
                #response::#ident(ref value) => ::cluster::__private::encode::<#codec, #ty>(value, dst),
            }
        });
        let doc = format!(
            "The responses of [`{}`], encoded as they are written.",
            self.server
        );
        quote! {
            #[doc = #doc]
            #[doc(hidden)]
            #[allow(non_camel_case_types)]
            enum #response {
                #(#variants,)*
            }

            impl ::cluster::Body for #response
            where
                #(#bounds,)*
            {
                fn write_to(
                    &self,
                    dst: &mut ::cluster::__private::bytes::BytesMut,
                ) -> ::core::result::Result<(), ::cluster::Error> {
                    match *self {
                        #(#arms)*
                    }
                }
            }
        }
    }

    /// The dispatch arm of one method: decode, call, encode.
    fn server_arm(&self, m: &CheckedMethod, service: &Ident, req: &Ident) -> TokenStream {
        let (name, client, codec) = (&self.service.item.ident, &self.client, &self.codec);
        let (ident, output) = (&m.ident, &m.output);
        let constant = command_const(m);
        let args: Vec<&Ident> = m.args.iter().map(|(arg, _)| arg).collect();
        let request = request_type(&self.service.codec, m);
        let pattern = match self.service.codec {
            Codec::Zproto => quote!(#(#args)*),
            _ => quote!((#(#args,)*)),
        };
        let decode = quote! {
            let #pattern: #request = ::cluster::__private::decode_request::<#codec, #request>(&#req)?;
        };
        let call = quote!(<S as #name>::#ident(&#service, #(#args),*).await);
        let response = &self.response;
        let respond = if m.oneway {
            quote!({ #call; ::core::option::Option::None })
        } else if m.remote_ok.is_some() {
            quote!({
                match #call {
                    ::core::result::Result::Ok(value) => {
                        ::core::option::Option::Some(#response::#ident(value))
                    }
                    ::core::result::Result::Err(error) => {
                        ::cluster::__private::refuse(&#req, &error);
                        ::core::option::Option::None
                    }
                }
            })
        } else {
            quote!({
                let value: #output = #call;
                ::core::option::Option::Some(#response::#ident(value))
            })
        };
        let cfgs = &m.cfgs;
        quote! {
            #(#cfgs)*
            <#client>::#constant => {
                #decode
                #respond
            }
        }
    }

    /// The command id expression of a method, per the documented rules.
    fn command_id(&self, m: &CheckedMethod) -> TokenStream {
        match (m.cmd, &self.service.codec) {
            (Some(id), _) => quote!(#id),
            (None, Codec::Zproto) => {
                let request = &m.args[0].1;
                quote!(<#request as ::cluster::__private::cluster_codec::zproto::Message>::TAG)
            }
            (None, _) => {
                let (service, method) = (self.service.item.ident.to_string(), m.ident.to_string());
                quote!(::cluster::command_id(#service, #method))
            }
        }
    }

    /// The request must be `Encode` for the client and `Decode` for the
    /// server (`which`), spanned at the first argument, or the method for
    /// none.
    fn request_bound(&self, m: &CheckedMethod, which: &str) -> TokenStream {
        let span = m.args.first().map_or(m.ident.span(), |(_, ty)| ty.span());
        self.bound_at(request_type(&self.service.codec, m), span, which)
    }
}

/// The type of a request body, the one shape client and server agree on:
/// the one message for zproto, the tuple of the arguments otherwise (which
/// bincode writes as the arguments one after another).
fn request_type(codec: &Codec, m: &CheckedMethod) -> TokenStream {
    let types = m.args.iter().map(|(_, ty)| ty);
    match codec {
        Codec::Zproto => quote!(#(#types)*),
        _ => quote!((#(#types,)*)),
    }
}

/// The client's request value, of [`request_type`], from the arguments.
fn request_value(codec: &Codec, m: &CheckedMethod) -> TokenStream {
    let args = m.args.iter().map(|(arg, _)| arg);
    match codec {
        Codec::Zproto => quote!(#(#args)*),
        _ => quote!((#(#args,)*)),
    }
}

/// The name of a method's command-id constant: `add` → `ADD`.
fn command_const(m: &CheckedMethod) -> Ident {
    format_ident!("{}", m.ident.to_string().to_uppercase())
}
