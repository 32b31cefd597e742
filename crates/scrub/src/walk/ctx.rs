//! The walk's context: the policy, where we are in the item (for `_meta`), the remarks so far
//! and the report. Every kept string passes through [`Ctx::text`] or a stricter check.

use std::borrow::Cow;

use super::meta::{Meta, Seg};
use super::names::Names;
use super::report::Report;
use super::rules::{
    FILTERED, RULE_ALLOWLIST, RULE_BUDGET, RULE_FREETEXT, RULE_IDS, RULE_MESSAGE, RULE_TEMPLATE,
    RULE_URLPATH,
};
use super::values::Val;
use crate::policy::Policy;
use crate::work::Meter;

/// State of one item's walk.
pub struct Ctx<'p> {
    /// The compiled policy.
    pub policy: &'p Policy,
    /// Whether company and user IDs may leave.
    pub ids_allowed: bool,
    path: Vec<Seg<'p>>,
    meta: Meta,
    /// Counts for the removal report.
    pub report: &'p mut Report,
    /// Transaction names decided so far in this envelope, so every copy gets the same.
    pub names: &'p mut Names,
    /// Reused buffer for remarks.
    scratch: Vec<(String, usize, usize)>,
    /// The request's work meter, shared by every item of the envelope.
    meter: Meter,
}

impl<'p> Ctx<'p> {
    /// A fresh context.
    pub fn new(
        policy: &'p Policy,
        ids_allowed: bool,
        report: &'p mut Report,
        names: &'p mut Names,
        meter: Meter,
    ) -> Ctx<'p> {
        Ctx {
            policy,
            ids_allowed,
            path: Vec::with_capacity(16),
            meta: Meta::default(),
            report,
            names,
            scratch: Vec::new(),
            meter,
        }
    }

    /// Whether the request has used its work budget: free text is no longer judged.
    pub fn budget_spent(&self) -> bool {
        self.meter.spent()
    }

    /// Once the request has used its work budget, replaces free text that is about to be
    /// judged with [`FILTERED`] (remark `@budget:replace`, counted `@budget`) and returns
    /// true: the caller must not judge or keep it. Judging stops; nothing unjudged leaves.
    /// Empty text and the placeholder itself hold nothing and stay as they are.
    pub fn over_budget(&mut self, s: &mut Cow<'_, str>) -> bool {
        if !self.meter.spent() {
            return false;
        }
        self.report.work_budget_exhausted = 1;
        if s.is_empty() || *s == FILTERED {
            return true;
        }
        self.report.redacted(super::rules::COUNT_BUDGET);
        // A rule may have rewritten part of it already (a URL's path): the placeholder
        // replaces the whole, so its remark supersedes theirs.
        self.meta
            .replaced_whole(&self.path, RULE_BUDGET, FILTERED.len(), s.len());
        *s = Cow::Borrowed(FILTERED);
        true
    }

    /// [`Ctx::over_budget`] on a scalar: a string is replaced; a number (judged through its
    /// decimal form) becomes the placeholder too; other values are left to the caller.
    pub fn val_over_budget(&mut self, v: &mut Option<Val<'_>>) -> bool {
        match v {
            Some(Val::Str(s)) => self.over_budget(s),
            Some(Val::Num(n)) if self.meter.spent() => {
                let mut s = Cow::Owned(n.to_string());
                self.over_budget(&mut s);
                *v = Some(Val::Str(s.into_owned().into()));
                true
            }
            _ => false,
        }
    }

    /// Runs `f` one step deeper.
    pub fn at<R>(&mut self, seg: Seg<'p>, f: impl FnOnce(&mut Self) -> R) -> R {
        self.path.push(seg);
        let r = f(self);
        self.path.pop();
        r
    }

    /// Runs `f` under an object key.
    pub fn key<R>(&mut self, key: &'p str, f: impl FnOnce(&mut Self) -> R) -> R {
        self.at(Seg::Key(key), f)
    }

    /// Passes a kept string through the detectors, replacing matches with placeholders and
    /// recording each replacement in `_meta` and the report.
    pub fn text(&mut self, s: &mut Cow<'_, str>) {
        if self.over_budget(s) {
            return;
        }
        let Some(red) = self.policy.detectors.redact(s) else {
            return;
        };
        let len = s.len();
        self.scratch.clear();
        for &(kind, start, end) in &red.remarks {
            self.report.redacted(kind.rule_id());
            self.scratch
                .push((format!("{}:replace", kind.rule_id()), start, end));
        }
        let remarks = std::mem::take(&mut self.scratch);
        self.meta.substituted(&self.path, remarks.into_iter(), len);
        *s = Cow::Owned(red.text);
    }

    /// A URL or path: query, fragment and credentials go, then each path segment passes the
    /// detectors *decoded* (`alice%40example.com` is an email), a host that is not technical
    /// becomes `[host]` ([`crate::normalize::hosts`]), then the whole string passes the detectors.
    /// For URLs of code (frames' files); URLs of requests use [`Ctx::request_url`].
    pub fn url(&mut self, s: &mut Cow<'_, str>) {
        self.url_with(s, false, None);
    }

    /// A URL an application was called at or called: as [`Ctx::url`], and then its path is
    /// the route template's when `route` matches it, otherwise every segment that is not
    /// technical (a name, a slug of words) is masked (`/people/*/cv/`), and so is every id
    /// (`/users/*/`) without ID consent, with an `@ids:replace` remark.
    pub fn request_url(&mut self, s: &mut Cow<'_, str>, route: Option<&str>) {
        self.url_with(s, true, route);
    }

    fn url_with(&mut self, s: &mut Cow<'_, str>, mask: bool, route: Option<&str>) {
        if self.over_budget(s) {
            return;
        }
        if let Some(clean) = crate::normalize::url::scrub_url(s) {
            self.report.redacted(super::rules::COUNT_URL_QUERY);
            *s = Cow::Owned(clean);
        }
        let mut changed = false;
        let mut routed = false;
        if let Some(r) = route.and_then(|r| crate::normalize::ident::apply_route(s, r)) {
            routed = true;
            if r != **s {
                self.report.redacted(super::rules::COUNT_URLPATH);
                *s = Cow::Owned(r);
                changed = true;
            }
        }
        let mask = mask && !routed;
        // Without ID consent, the ids in the path go too (`crate::normalize::ids`).
        let mask_ids = mask && !self.ids_allowed;
        let (mut other, mut ids) = (false, false);
        let detectors = &self.policy.detectors;
        let report = &mut *self.report;
        let mapped = crate::normalize::url::map_segments(s, |seg| {
            if let Some(red) = detectors.redact(seg) {
                for &(kind, ..) in &red.remarks {
                    report.redacted(kind.rule_id());
                }
                other = true;
                return Some(red.text);
            }
            if mask && !crate::normalize::ident::is_technical_segment(seg) {
                report.redacted(super::rules::COUNT_URLPATH);
                other = true;
                return Some(crate::normalize::ident::MASKED_SEGMENT.to_owned());
            }
            if mask_ids && crate::normalize::ids::is_id_segment(seg) {
                report.redacted(super::rules::COUNT_IDS);
                ids = true;
                return Some(crate::normalize::ids::ID_PLACEHOLDER.to_owned());
            }
            None
        });
        let len = s.len();
        if let Some(m) = mapped {
            *s = Cow::Owned(m);
            changed |= other;
        }
        if let Some(r) = crate::normalize::hosts::host_range(s) {
            let vocab = self.policy.vocabulary;
            if !crate::normalize::hosts::is_technical(
                &s[r.clone()],
                vocab,
                &self.policy.config.allowed_hosts,
            ) {
                self.report.redacted(super::rules::COUNT_HOST);
                let mut owned = s.to_string();
                owned.replace_range(r, crate::normalize::hosts::HOST);
                *s = Cow::Owned(owned);
                changed = true;
            }
        }
        if changed || ids {
            let new_len = s.len();
            let rules = [(changed, RULE_URLPATH), (ids, RULE_IDS)];
            self.meta.substituted(
                &self.path,
                (rules.into_iter().filter(|(on, _)| *on)).map(|(_, r)| (r.to_owned(), 0, new_len)),
                len,
            );
        }
        self.text(s);
    }

    /// [`Ctx::request_url`] on a scalar (non-strings go through [`Ctx::val_text`]).
    pub fn val_request_url(&mut self, v: &mut Option<Val<'_>>, route: Option<&str>) {
        match v {
            Some(Val::Str(s)) => self.request_url(s, route),
            _ => self.val_text(v),
        }
    }

    /// Replaces a name written by the application with a placeholder (`<custom
    /// transaction>`): it is not shaped like code, so it may be a title or a person's name.
    pub fn replace_freetext(&mut self, s: &mut Cow<'_, str>, placeholder: &str) {
        let len = s.len();
        self.report.redacted(super::rules::COUNT_FREETEXT);
        self.meta.substituted(
            &self.path,
            std::iter::once((RULE_FREETEXT.to_owned(), 0, placeholder.len())),
            len,
        );
        *s = Cow::Owned(placeholder.to_owned());
    }

    /// [`Ctx::url`] on a scalar (non-strings go through [`Ctx::val_text`]).
    pub fn val_url(&mut self, v: &mut Option<Val<'_>>) {
        match v {
            Some(Val::Str(s)) => self.url(s),
            _ => self.val_text(v),
        }
    }

    /// [`Ctx::text`] on a scalar: strings are checked; numbers are checked through their
    /// decimal form (a card number sent as a JSON number is still a card number); other
    /// values are dropped.
    pub fn val_text(&mut self, v: &mut Option<Val<'_>>) {
        match v {
            Some(Val::Str(s)) => self.text(s),
            Some(Val::Num(n)) => {
                let mut s = Cow::Owned(n.to_string());
                self.text(&mut s);
                if let Cow::Owned(t) = s {
                    if t != n.to_string() {
                        *v = Some(Val::Str(Cow::Owned(t)));
                    }
                }
            }
            Some(Val::Bool(_)) => {}
            Some(Val::Other) => *v = None,
            None => {}
        }
    }

    /// Replaces a value by a rewritten form, with one `rule` remark over the new text.
    pub fn replace_with_remark(&mut self, s: &mut Cow<'_, str>, new: String, rule: &str) {
        self.replace_with_rules(s, new, &[rule]);
    }

    /// [`Ctx::replace_with_remark`] for a rewrite made by several rules, one remark each.
    pub fn replace_with_rules(&mut self, s: &mut Cow<'_, str>, new: String, rules: &[&str]) {
        let len = s.len();
        let new_len = new.len();
        self.meta.substituted(
            &self.path,
            rules.iter().map(|r| ((*r).to_owned(), 0, new_len)),
            len,
        );
        *s = Cow::Owned(new);
    }

    /// An exception message of type `ty`: kept only as a known template (see
    /// [`crate::exception_text`]), its replaced parts recorded as one `@message:template`
    /// remark and counted `@message-part`; an unknown message becomes `[filtered]`. What is
    /// kept then passes the detectors. `local` are the words of the event's own code.
    pub fn template_message(&mut self, s: &mut Cow<'_, str>, ty: &str, local: &[String]) {
        use crate::exception_text::Verdict;
        if self.over_budget(s) {
            return;
        }
        let hosts = &self.policy.config.allowed_hosts;
        match self.policy.templates.judge(ty, s, local, hosts) {
            Verdict::Unchanged => {}
            Verdict::Rewritten { text, placeholders } => {
                for _ in 0..placeholders {
                    self.report.redacted(super::rules::COUNT_MESSAGE_PART);
                }
                self.replace_with_remark(s, text, RULE_TEMPLATE);
            }
            Verdict::Unknown => {
                self.filter_message(s);
                return;
            }
        }
        self.text(s);
    }

    /// Replaces a whole free-text value by the `[filtered]` placeholder.
    pub fn filter_message(&mut self, s: &mut Cow<'_, str>) {
        let len = s.len();
        self.report.redacted(super::rules::COUNT_MESSAGE);
        self.meta.substituted(
            &self.path,
            std::iter::once((RULE_MESSAGE.to_owned(), 0, FILTERED.len())),
            len,
        );
        *s = Cow::Borrowed(FILTERED);
    }

    /// Records that a field under the current path was removed: `_meta` remark `x` and the
    /// report's `path` count.
    pub fn removed(&mut self, key: &'static str, report_path: &'static str) {
        self.report.removed(report_path);
        self.path.push(Seg::Key(key));
        self.meta.removed(&self.path, RULE_ALLOWLIST);
        self.path.pop();
    }

    /// Counts a removal in the report only (for removals too numerous to annotate, such as
    /// unknown keys whose names are themselves input).
    pub fn removed_silently(&mut self, report_path: &'static str) {
        self.report.removed(report_path);
    }

    /// Takes the finished `_meta` tree.
    pub fn take_meta(&mut self) -> Option<serde_json::Value> {
        std::mem::take(&mut self.meta).into_value()
    }
}
