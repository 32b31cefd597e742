//! The walk's machinery: what every schema and rule uses while it walks one item.
//!
//! What enters: a parsed item's fields, one at a time, with the policy and the request's
//! work meter. What leaves: the kept values (detectors applied through [`Ctx`]), the
//! item's `_meta` remarks ([`meta`]), the counts of the removal report ([`report`]), and the
//! names decided so far ([`names`]). [`rules`] names every remark's rule; [`guards`] keep
//! scalars whose shape cannot hold free text; [`values`] are the borrowed scalar types the
//! schemas are parsed into.

pub(crate) mod ctx;
pub(crate) mod guards;
pub(crate) mod meta;
pub(crate) mod names;
pub(crate) mod report;
pub(crate) mod rules;
pub(crate) mod values;

pub(crate) use ctx::Ctx;
