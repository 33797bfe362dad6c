//! `#[derive(HclSpec)]`: derives a Packer component's HCL schema from its serde config struct,
//! so the struct is the one description of the configuration.
//!
//! Each named field becomes an attribute whose cty type comes from the field's Rust type (via
//! `packer_sdk::spec::HclValue`); `#[hcl(block)]` makes a nested block instead (`Option<T>` a
//! single optional block, `Vec<T>` a repeated one, plain `T` a required one). A field is required
//! unless it is an `Option` or has `#[serde(default)]` (on the field or the struct). The HCL name
//! honours `#[serde(rename = "…")]`; `#[serde(skip)]` and `#[hcl(skip)]` fields are left out (the
//! latter for fields serde still reads elsewhere, e.g. from JSON). `#[serde(flatten)]` on a field
//! whose type is itself `HclSpec` puts that type's attributes beside the struct's own, so one
//! settings struct can be shared by several components. Doc comments become the field
//! documentation.

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

/// The `#[hcl(...)]` attributes of a field.
#[derive(Default)]
struct HclAttrs {
    block: bool,
    skip: bool,
}

fn hcl_attrs(attrs: &[syn::Attribute]) -> syn::Result<HclAttrs> {
    let mut out = HclAttrs::default();
    for a in attrs.iter().filter(|a| a.path().is_ident("hcl")) {
        a.parse_nested_meta(|m| {
            if m.path.is_ident("block") {
                out.block = true;
                Ok(())
            } else if m.path.is_ident("skip") {
                out.skip = true;
                Ok(())
            } else {
                Err(m.error("unknown hcl attribute; expected `block` or `skip`"))
            }
        })?;
    }
    Ok(out)
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
    let mut locators = Vec::new();
    for f in &fields.named {
        let sa = serde_attrs(&f.attrs)?;
        let ha = hcl_attrs(&f.attrs)?;
        if sa.skip || ha.skip {
            continue;
        }
        if sa.flatten {
            if ha.block {
                return Err(syn::Error::new(
                    f.span(),
                    "HclSpec: a flattened field cannot also be a block",
                ));
            }
            let ty = &f.ty;
            inserts.push(quote! {
                for (_, entry) in <#ty as ::packer_sdk::spec::HclSpec>::object_spec().0 {
                    spec.insert(entry);
                }
            });
            doc_entries.push(quote! { <#ty as ::packer_sdk::spec::HclSpec>::field_docs() });
            locators.push(quote! {
                if let Some(e) = ::packer_sdk::config::locate_in::<#ty>(map) {
                    return Some(e);
                }
            });
            continue;
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
        let (spec, nested) = if ha.block {
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
            ::std::vec![::packer_sdk::spec::FieldDoc { name: #hcl_name, doc: #doc, nested: #nested }]
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
                let mut docs = ::std::vec::Vec::new();
                #(docs.extend(#doc_entries);)*
                docs
            }
            fn locate_error(
                map: &::packer_sdk::serde_json::Map<::std::string::String, ::packer_sdk::serde_json::Value>,
            ) -> ::std::option::Option<::packer_sdk::config::FieldError> {
                let _ = map;
                #(#locators)*
                ::std::option::Option::None
            }
        }
    })
}
