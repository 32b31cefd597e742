//! Events and transactions: the kept fields, declared as types. A field not declared here is
//! skipped by the parser and can never be re-emitted.

mod contexts;
mod exception;
mod request;
pub mod span;

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::attribution::Attribution;
use crate::normalize;
use crate::policy::LogMode;
use crate::rules::names;
use crate::walk::meta::Seg;
use crate::walk::rules::FILTERED;
use crate::walk::values::{List, Pairs, Present, Val};
use crate::walk::{guards, Ctx};

use contexts::Contexts;
use exception::{Exception, Stacktrace, Thread, Values};
use request::Request;
use span::Span;

/// An event or a transaction, as kept.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Event<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    event_id: Option<Val<'a>>,
    #[serde(rename = "type", borrow, skip_serializing_if = "Option::is_none")]
    ty: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    timestamp: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    start_timestamp: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    platform: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    level: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    logger: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    release: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    environment: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    dist: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    transaction: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    transaction_info: Option<TransactionInfo<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    server_name: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "List::is_empty")]
    fingerprint: List<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    logentry: Option<LogEntry<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    message: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    exception: Option<Values<Exception<'a>>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    threads: Option<Values<Thread<'a>>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    stacktrace: Option<Stacktrace<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    request: Option<Request<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    contexts: Option<Contexts<'a>>,
    #[serde(borrow, skip_serializing_if = "Pairs::is_empty")]
    tags: Pairs<'a, Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    user: Option<User<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    sdk: Option<Sdk<'a>>,
    #[serde(borrow, skip_serializing_if = "Pairs::is_empty")]
    modules: Pairs<'a, Val<'a>>,
    #[serde(borrow, skip_serializing_if = "List::is_empty")]
    spans: List<Span<'a>>,
    #[serde(borrow, skip_serializing_if = "Pairs::is_empty")]
    measurements: Pairs<'a, Measurement<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    debug_meta: Option<DebugMeta<'a>>,
    #[serde(skip_serializing)]
    breadcrumbs: Option<Present>,
    #[serde(skip_serializing)]
    extra: Option<Present>,
    #[serde(skip_serializing)]
    errors: Option<Present>,
    /// The SDK's own `_meta` is dropped: ours replaces it.
    #[serde(rename = "_meta", skip_serializing)]
    sdk_meta: Option<Present>,
    /// The remarks of this walk, written last.
    #[serde(
        rename = "_meta",
        skip_deserializing,
        skip_serializing_if = "Option::is_none"
    )]
    meta: Option<serde_json::Value>,
}

/// `transaction_info`: how the name was made.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct TransactionInfo<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    source: Option<Val<'a>>,
}

/// `logentry`: the template may stay, its parameters and formatted text never do.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct LogEntry<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    message: Option<Val<'a>>,
    #[serde(skip_serializing)]
    params: Option<Present>,
    #[serde(skip_serializing)]
    formatted: Option<Present>,
}

/// `user`: only its `id`, and only under ID consent.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct User<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    id: Option<Val<'a>>,
    #[serde(skip_serializing)]
    email: Option<Present>,
    #[serde(skip_serializing)]
    username: Option<Present>,
    #[serde(skip_serializing)]
    name: Option<Present>,
    #[serde(skip_serializing)]
    ip_address: Option<Present>,
    #[serde(skip_serializing)]
    geo: Option<Present>,
    #[serde(skip_serializing)]
    data: Option<Present>,
    #[serde(skip_serializing)]
    segment: Option<Present>,
}

impl User<'_> {
    /// Removes every declared field but `id`; true if there was any.
    fn take_other(&mut self) -> bool {
        [
            self.email.take(),
            self.username.take(),
            self.name.take(),
            self.ip_address.take(),
            self.geo.take(),
            self.data.take(),
            self.segment.take(),
        ]
        .iter()
        .any(Option::is_some)
    }
}

/// `sdk`: name, version, integrations and packages; and `settings`, which the SDK's value
/// never fills: it is always `{"infer_ip": "never"}` ([`crate::infer`]).
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Sdk<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    name: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    version: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "List::is_empty")]
    integrations: List<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "List::is_empty")]
    packages: List<Package<'a>>,
    #[serde(skip_deserializing)]
    settings: crate::infer::SdkSettings,
}

/// One SDK package.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Package<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    name: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    version: Option<Val<'a>>,
}

/// One measurement: a number and its unit.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Measurement<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    value: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    unit: Option<Val<'a>>,
}

/// `debug_meta`: native debug images (addresses and ids).
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct DebugMeta<'a> {
    #[serde(borrow, skip_serializing_if = "List::is_empty")]
    images: List<DebugImage<'a>>,
}

/// One debug image.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct DebugImage<'a> {
    #[serde(rename = "type", borrow, skip_serializing_if = "Option::is_none")]
    ty: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    debug_id: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    code_id: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    code_file: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    debug_file: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    image_addr: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    image_size: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    arch: Option<Val<'a>>,
}

impl<'a> Event<'a> {
    /// Company and user, as sent; `Err(`[`crate::items::DROP_AMBIGUOUS_COMPANY`]`)` when the
    /// event names more than one company (see [`company_values`]).
    pub fn attribution(&mut self, company_tag: &str) -> Result<Attribution<'_>, &'static str> {
        let spans = self.spans.0.iter_mut().map(|s| s.tags_mut());
        let company = company_values(company_tag, std::iter::once(&mut self.tags).chain(spans))?;
        // Fields, not the accessors below: `company` still borrows the tags.
        let user = (self.user.as_ref())
            .and_then(|u| u.id.as_ref())
            .and_then(Val::as_str);
        let trace = self.contexts.as_ref().and_then(|c| c.trace_id());
        Ok(Attribution {
            company,
            user,
            trace_id: trace.and_then(crate::attribution::TraceId::parse),
            by: crate::attribution::AttributedBy::Tag,
        })
    }

    /// `user.id`, as sent.
    pub fn user_id(&self) -> Option<&str> {
        self.user
            .as_ref()
            .and_then(|u| u.id.as_ref())
            .and_then(Val::as_str)
    }

    /// `contexts.trace.trace_id`, as sent.
    pub fn trace_id(&self) -> Option<&str> {
        self.contexts.as_ref().and_then(|c| c.trace_id())
    }

    /// Walks the whole event. After this, every kept string has passed the detectors.
    /// The field groups are walked in a fixed order: a transaction name is decided before
    /// the request URL that reads its route, and `_meta` is taken last.
    pub fn scrub(&mut self, cx: &mut Ctx<'_>) {
        self.scrub_scalars(cx);
        self.scrub_deploy(cx);
        let route = self.scrub_transaction(cx);
        self.scrub_server_name(cx);
        self.scrub_fingerprint(cx);
        self.scrub_messages(cx);
        self.scrub_exceptions(cx);
        self.scrub_request_contexts_tags(cx, route.as_deref());
        self.scrub_user(cx);
        // Every event says "never infer an IP": the address the ingest would see is the
        // proxy's egress, not a user's (an event without `sdk` gets one for it).
        scrub_sdk(self.sdk.get_or_insert_with(Sdk::default), cx);
        scrub_modules(cx, &mut self.modules);
        self.scrub_spans_measurements(cx);
        self.scrub_debug_meta(cx);
        self.drop_unkept(cx);
        self.meta = cx.take_meta();
    }

    /// Ids, timestamps and tokens (type, platform, level) by shape; the logger's name
    /// through the detectors.
    fn scrub_scalars(&mut self, cx: &mut Ctx<'_>) {
        guards::hex_id(&mut self.event_id);
        guards::token(&mut self.ty);
        guards::timestamp(&mut self.timestamp);
        guards::timestamp(&mut self.start_timestamp);
        guards::token(&mut self.platform);
        guards::token(&mut self.level);
        cx.key("logger", |cx| cx.val_text(&mut self.logger));
    }

    /// `release`, `environment` and `dist` by the deploy rules.
    fn scrub_deploy(&mut self, cx: &mut Ctx<'_>) {
        cx.key("release", |cx| {
            crate::rules::deploy::release(cx, &mut self.release)
        });
        cx.key("environment", |cx| {
            crate::rules::deploy::environment(cx, &mut self.environment)
        });
        cx.key("dist", |cx| crate::rules::deploy::dist(cx, &mut self.dist));
    }

    /// The transaction name by its source (`transaction_info.source`, a token or nothing).
    /// Returns the route template as sent, when the source says the name is one: it gives
    /// the request URL its path.
    fn scrub_transaction(&mut self, cx: &mut Ctx<'_>) -> Option<String> {
        if let Some(ti) = &mut self.transaction_info {
            guards::token(&mut ti.source);
            if ti.source.is_none() {
                self.transaction_info = None;
            }
        }
        let source = self
            .transaction_info
            .as_ref()
            .and_then(|ti| ti.source.as_ref())
            .and_then(Val::as_str);
        let route = names::is_route_source(source)
            .then(|| self.transaction.as_ref().and_then(Val::as_str))
            .flatten()
            .map(str::to_owned);
        cx.key("transaction", |cx| {
            names::transaction(cx, source, &mut self.transaction)
        });
        route
    }

    /// `server_name` (a host name) only when the operator keeps it; else removed.
    fn scrub_server_name(&mut self, cx: &mut Ctx<'_>) {
        if self.server_name.is_some() {
            if cx.policy.config.keep_server_name {
                cx.key("server_name", |cx| cx.val_text(&mut self.server_name));
            } else {
                self.server_name = None;
                cx.removed("server_name", "server_name");
            }
        }
    }

    /// Each fingerprint part: the default marker and code words stay, the rest is judged.
    fn scrub_fingerprint(&mut self, cx: &mut Ctx<'_>) {
        cx.key("fingerprint", |cx| {
            for (i, f) in self.fingerprint.0.iter_mut().enumerate() {
                cx.at(Seg::Index(i), |cx| fingerprint_part(cx, f));
            }
        });
    }

    /// Exceptions, threads and the event's own stack trace.
    fn scrub_exceptions(&mut self, cx: &mut Ctx<'_>) {
        if let Some(ex) = &mut self.exception {
            cx.key("exception", |cx| {
                cx.key("values", |cx| {
                    for (i, e) in ex.0.iter_mut().enumerate() {
                        cx.at(Seg::Index(i), |cx| e.scrub(cx));
                    }
                })
            });
        }
        if let Some(th) = &mut self.threads {
            cx.key("threads", |cx| {
                cx.key("values", |cx| {
                    for (i, t) in th.0.iter_mut().enumerate() {
                        cx.at(Seg::Index(i), |cx| t.scrub(cx));
                    }
                })
            });
        }
        if let Some(st) = &mut self.stacktrace {
            cx.key("stacktrace", |cx| st.scrub(cx, "stacktrace.frames.vars"));
        }
    }

    /// The request (its URL's path by `route`), the contexts (emptied ones go) and tags.
    fn scrub_request_contexts_tags(&mut self, cx: &mut Ctx<'_>, route: Option<&str>) {
        if let Some(r) = &mut self.request {
            cx.key("request", |cx| r.scrub(cx, route));
        }
        if let Some(c) = &mut self.contexts {
            cx.key("contexts", |cx| c.scrub(cx));
            if c.is_empty() {
                self.contexts = None;
            }
        }
        cx.key("tags", |cx| scrub_tags(cx, &mut self.tags, "tags.*"));
    }

    /// The transaction's spans, and measurements kept only as a token name, a number and
    /// a token unit.
    fn scrub_spans_measurements(&mut self, cx: &mut Ctx<'_>) {
        cx.key("spans", |cx| {
            for (i, s) in self.spans.0.iter_mut().enumerate() {
                cx.at(Seg::Index(i), |cx| s.scrub(cx));
            }
        });
        self.measurements.0.retain_mut(|(k, m)| {
            guards::num(&mut m.value);
            guards::token(&mut m.unit);
            guards::is_token(k) && m.value.is_some()
        });
    }

    /// Debug images: ids, addresses and tokens by shape, file names through the detectors.
    fn scrub_debug_meta(&mut self, cx: &mut Ctx<'_>) {
        if let Some(dm) = &mut self.debug_meta {
            cx.key("debug_meta", |cx| {
                cx.key("images", |cx| {
                    for (i, im) in dm.images.0.iter_mut().enumerate() {
                        cx.at(Seg::Index(i), |cx| {
                            guards::token(&mut im.ty);
                            guards::hex_id(&mut im.debug_id);
                            guards::token(&mut im.code_id);
                            cx.key("code_file", |cx| cx.val_text(&mut im.code_file));
                            cx.key("debug_file", |cx| cx.val_text(&mut im.debug_file));
                            guards::token(&mut im.image_addr);
                            guards::num(&mut im.image_size);
                            guards::token(&mut im.arch);
                        });
                    }
                })
            });
        }
    }

    /// Breadcrumbs, `extra` and `errors` go whole (each removal counted and remarked);
    /// the SDK's own `_meta` goes silently (ours replaces it).
    fn drop_unkept(&mut self, cx: &mut Ctx<'_>) {
        for (present, key) in [
            (self.breadcrumbs.take(), "breadcrumbs"),
            (self.extra.take(), "extra"),
            (self.errors.take(), "errors"),
        ] {
            if present.is_some() {
                cx.removed(key, key);
            }
        }
        self.sdk_meta = None;
    }

    fn scrub_messages(&mut self, cx: &mut Ctx<'_>) {
        let mode = cx.policy.config.log_messages;
        if let Some(le) = &mut self.logentry {
            let had_params = le.params.take().is_some();
            if had_params {
                cx.removed_silently("logentry.params");
            }
            if le.formatted.take().is_some() {
                cx.removed_silently("logentry.formatted");
            }
            cx.key("logentry", |cx| {
                cx.key("message", |cx| {
                    log_message(cx, mode, had_params, &mut le.message)
                })
            });
        }
        cx.key("message", |cx| {
            log_message(cx, mode, false, &mut self.message)
        });
    }

    fn scrub_user(&mut self, cx: &mut Ctx<'_>) {
        let Some(user) = &mut self.user else { return };
        let had_other = user.take_other();
        if cx.ids_allowed && user.id.is_some() {
            cx.key("user", |cx| cx.key("id", |cx| cx.val_text(&mut user.id)));
            if had_other {
                cx.removed_silently("user.*");
            }
        } else {
            self.user = None;
            cx.removed("user", "user");
        }
    }
}

/// A template with placeholders, sent with its parameters, is code; anything else may be data.
fn log_message(cx: &mut Ctx<'_>, mode: LogMode, had_params: bool, msg: &mut Option<Val<'_>>) {
    match msg {
        Some(Val::Str(s)) => match mode {
            LogMode::Template if had_params && normalize::message::is_probably_template(s) => {
                cx.text(s)
            }
            LogMode::Detect => cx.text(s),
            _ => cx.filter_message(s),
        },
        Some(Val::Other) => *msg = None,
        Some(Val::Num(_) | Val::Bool(_)) | None => {}
    }
}

/// What a fingerprint part that is not made of words of code becomes.
pub const FINGERPRINT_PLACEHOLDER: &str = "[fingerprint]";

/// One part of a custom fingerprint: apps write them (`["registry-sync", host]`) and they
/// group issues, so a part leaves only when it is a Sentry variable (`{{ default }}`), a
/// number or hash, or made of words of code; any other part (a host, a person) becomes
/// [`FINGERPRINT_PLACEHOLDER`], which groups those events together.
fn fingerprint_part(cx: &mut Ctx<'_>, v: &mut Val<'_>) {
    if let Val::Str(s) = v {
        let variable = s.starts_with("{{") && s.ends_with("}}") && s.len() <= 64;
        let vocab = cx.policy.vocabulary;
        if !variable && !vocab.is_code(s, &[]) && s != FINGERPRINT_PLACEHOLDER {
            cx.replace_freetext(s, FINGERPRINT_PLACEHOLDER);
            return;
        }
    }
    text_in_place(cx, v);
}

fn text_in_place(cx: &mut Ctx<'_>, v: &mut Val<'_>) {
    let mut slot = Some(std::mem::replace(v, Val::Other));
    cx.val_text(&mut slot);
    *v = slot.unwrap_or(Val::Str(Cow::Borrowed(FILTERED)));
}

/// Is `key` the company tag? Compared without case: `Company_ID` is the same tag to the
/// person who reads it, so it must not name a second company unseen.
pub(crate) fn is_company_key(key: &str, company_tag: &str) -> bool {
    key.eq_ignore_ascii_case(company_tag)
}

/// The one company that tag lists name, if any: every value under the company tag (in
/// any case) in every list, numbers read as their decimal string (`7` is company `"7"`,
/// as the SDKs that keep a tag's type send it), must be the same company, or the item is
/// `Err(`[`crate::items::DROP_AMBIGUOUS_COMPANY`]`)`: deciding on one value would let the other
/// company's ID leave without its consent, and a reader that keeps the last duplicate key
/// would file the event under it. Values that are neither strings nor numbers name no
/// company. Number values are rewritten as strings in place, so what is kept is the string.
pub(crate) fn company_values<'t, 'a: 't>(
    company_tag: &str,
    lists: impl Iterator<Item = &'t mut Pairs<'a, Val<'a>>>,
) -> Result<Option<&'t str>, &'static str> {
    let mut found: Option<&'t str> = None;
    for tags in lists {
        for (k, v) in tags.0.iter_mut() {
            if !is_company_key(k, company_tag) {
                continue;
            }
            if let Val::Num(n) = v {
                *v = Val::Str(Cow::Owned(n.to_string()));
            }
            let Val::Str(value) = &*v else { continue };
            match found {
                Some(f) if f != value.as_ref() => return Err(crate::items::DROP_AMBIGUOUS_COMPANY),
                Some(_) => {}
                None => found = Some(value.as_ref()),
            }
        }
    }
    Ok(found)
}

/// Keeps allowlisted tags (values through the detectors) and the company tag under ID
/// consent, once and under its configured name; counts the rest. Events and transactions
/// whose company tags disagree were refused by their attribution; anywhere else (a
/// standalone span, never attributed) the first company value is the one kept.
pub(crate) fn scrub_tags(
    cx: &mut Ctx<'_>,
    tags: &mut Pairs<'_, Val<'_>>,
    removed_path: &'static str,
) {
    let policy = cx.policy;
    let company_tag = policy.config.company_tag.as_str();
    let mut company_kept = false;
    tags.0.retain_mut(|(k, v)| {
        let key: &str = if is_company_key(k, company_tag) {
            if !cx.ids_allowed {
                cx.removed_silently("tags.company");
                return false;
            }
            if company_kept {
                // The same company again: one tag says it.
                return false;
            }
            company_kept = true;
            if k != company_tag {
                *k = Cow::Owned(company_tag.to_owned());
            }
            company_tag
        } else if let Some(key) = policy.kept_tag(k) {
            key
        } else {
            cx.removed_silently(removed_path);
            return false;
        };
        let mut slot = Some(std::mem::replace(v, Val::Other));
        if key == "environment" {
            cx.key(key, |cx| crate::rules::deploy::environment(cx, &mut slot));
        } else {
            cx.key(key, |cx| cx.val_text(&mut slot));
        }
        match slot {
            Some(s) => {
                *v = s;
                true
            }
            None => false,
        }
    });
}

fn scrub_sdk(sdk: &mut Sdk<'_>, cx: &mut Ctx<'_>) {
    guards::token(&mut sdk.name);
    version(&mut sdk.version);
    sdk.integrations
        .0
        .retain(|i| matches!(i, Val::Str(s) if guards::is_token(s)));
    let before = sdk.packages.0.len();
    sdk.packages.0.retain_mut(|p| {
        version(&mut p.version);
        matches!(&p.name, Some(Val::Str(s)) if guards::is_package_name(s))
    });
    for _ in sdk.packages.0.len()..before {
        cx.removed_silently("sdk.packages");
    }
}

fn version(v: &mut Option<Val<'_>>) {
    if !matches!(v, Some(Val::Str(s)) if guards::is_version(s)) {
        *v = None;
    }
}

/// `modules`: package names and versions, checked by shape rather than by the detectors
/// (`1.2.3.4` is a version here, not an IP).
fn scrub_modules(cx: &mut Ctx<'_>, modules: &mut Pairs<'_, Val<'_>>) {
    modules.0.retain(|(k, v)| {
        let ok = guards::is_package_name(k) && matches!(v, Val::Str(s) if guards::is_version(s));
        if !ok {
            cx.removed_silently("modules.*");
        }
        ok
    });
}

#[cfg(test)]
mod tests;
