//! The rules of what applications and deployments write: names of transactions and spans
//! ([`names`]), releases and environments ([`deploy`]), and the keys of span data and
//! attributes ([`attributes`]). Each decides whether one value is code, an id or free text.
//!
//! What enters: one value of a kept field, in the walk's [`Ctx`](crate::walk::Ctx). What
//! leaves: the value kept, rewritten to its shape (a route template, a masked path) or
//! replaced by a placeholder, with its `_meta` remark and report count.

pub(crate) mod attributes;
pub(crate) mod deploy;
pub(crate) mod names;
