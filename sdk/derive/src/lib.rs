//! `#[derive(HclSpec)]`: derives a Packer component's HCL schema from its serde config struct,
//! so the struct is the one description of the configuration.
//!
//! Each named field becomes an attribute whose cty type comes from the field's Rust type (via
//! `packer_sdk::spec::HclValue`); `#[hcl(block)]` makes a nested block instead (`Option<T>` a
//! single optional block, `Vec<T>` a repeated one, plain `T` a required one). A field is required
//! unless it is an `Option` or has `#[serde(default)]` (on the field or the struct). The HCL name
//! honours `#[serde(rename = "…")]`; `#[serde(skip)]` fields are left out. Doc comments become the
//! field documentation.

use proc_macro::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Fields, Meta, Type, parse_macro_input, spanned::Spanned};

#[proc_macro_derive(HclSpec, attributes(hcl))]
pub fn derive_hcl_spec(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand(&input) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

#[derive(Default)]
struct SerdeAttrs {
    rename: Option<String>,
    default: bool,
    skip: bool,
    flatten: bool,
    rename_all: Option<String>,
}

fn serde_attrs(attrs: &[syn::Attribute]) -> syn::Result<SerdeAttrs> {
    let mut out = SerdeAttrs::default();
    for a in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        a.parse_nested_meta(|m| {
            if m.path.is_ident("rename") {
                let v: syn::LitStr = m.value()?.parse()?;
                out.rename = Some(v.value());
            } else if m.path.is_ident("rename_all") {
                let v: syn::LitStr = m.value()?.parse()?;
                out.rename_all = Some(v.value());
            } else if m.path.is_ident("default") {
                out.default = true;
                if m.input.peek(syn::Token![=]) {
                    let _: syn::LitStr = m.value()?.parse()?;
                }
            } else if m.path.is_ident("skip") || m.path.is_ident("skip_deserializing") {
                out.skip = true;
            } else if m.path.is_ident("flatten") {
                out.flatten = true;
            } else if m.input.peek(syn::Token![=]) {
                // other serde keys (deserialize_with, alias …) do not change the schema
                let _: proc_macro2::TokenStream = m.value()?.parse()?;
            } else if m.input.peek(syn::token::Paren) {
                let content;
                syn::parenthesized!(content in m.input);
                let _: proc_macro2::TokenStream = content.parse()?;
            }
            Ok(())
        })?;
    }
    Ok(out)
}

fn is_block(attrs: &[syn::Attribute]) -> syn::Result<bool> {
    let mut block = false;
    for a in attrs.iter().filter(|a| a.path().is_ident("hcl")) {
        a.parse_nested_meta(|m| {
            if m.path.is_ident("block") {
                block = true;
                Ok(())
            } else {
                Err(m.error("unknown hcl attribute; expected `block`"))
            }
        })?;
    }
    Ok(block)
}

fn docs(attrs: &[syn::Attribute]) -> String {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value().trim().to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    lines.join(" ").trim().to_string()
}

fn outer_ident(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}

fn expand(input: &DeriveInput) -> syn::Result<proc_macro2::TokenStream> {
    let name = &input.ident;
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new(
            input.span(),
            "HclSpec can only be derived for structs",
        ));
    };
    let Fields::Named(fields) = &data.fields else {
        return Err(syn::Error::new(
            input.span(),
            "HclSpec needs a struct with named fields",
        ));
    };
    let container = serde_attrs(&input.attrs)?;
    if let Some(r) = &container.rename_all
        && r != "snake_case"
    {
        return Err(syn::Error::new(
            input.span(),
            "HclSpec: HCL attributes are snake_case; rename single fields instead of rename_all",
        ));
    }
    let mut inserts = Vec::new();
    let mut doc_entries = Vec::new();
    for f in &fields.named {
        let sa = serde_attrs(&f.attrs)?;
        if sa.skip {
            continue;
        }
        if sa.flatten {
            return Err(syn::Error::new(
                f.span(),
                "HclSpec does not support #[serde(flatten)]",
            ));
        }
        let ident = f
            .ident
            .as_ref()
            .ok_or_else(|| syn::Error::new(f.span(), "unnamed field"))?;
        let hcl_name = sa
            .rename
            .clone()
            .unwrap_or_else(|| ident.to_string().trim_start_matches("r#").to_string());
        let has_default = sa.default || container.default;
        let ty = &f.ty;
        let (spec, nested) = if is_block(&f.attrs)? {
            match outer_ident(ty).as_deref() {
                Some("Vec") | Some("Option") => (
                    quote! { ::packer_sdk::spec::block::<#ty>(#hcl_name, #has_default) },
                    quote! { <#ty as ::packer_sdk::spec::HclBlock>::block_docs() },
                ),
                _ => (
                    quote! { ::packer_sdk::spec::required_block::<#ty>(#hcl_name, #has_default) },
                    quote! { <#ty as ::packer_sdk::spec::HclSpec>::field_docs() },
                ),
            }
        } else {
            (
                quote! { ::packer_sdk::spec::attr::<#ty>(#hcl_name, #has_default) },
                quote! { ::std::vec::Vec::new() },
            )
        };
        inserts.push(quote! { spec.insert(#spec); });
        let doc = docs(&f.attrs);
        doc_entries.push(quote! {
            ::packer_sdk::spec::FieldDoc { name: #hcl_name, doc: #doc, nested: #nested }
        });
    }
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    Ok(quote! {
        impl #impl_generics ::packer_sdk::spec::HclSpec for #name #ty_generics #where_clause {
            fn object_spec() -> ::packer_sdk::spec::ObjectSpec {
                let mut spec = ::packer_sdk::spec::ObjectSpec::new();
                #(#inserts)*
                spec
            }
            fn field_docs() -> ::std::vec::Vec<::packer_sdk::spec::FieldDoc> {
                ::std::vec![#(#doc_entries),*]
            }
        }
    })
}
