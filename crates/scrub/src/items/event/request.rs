//! The HTTP request of an event: method and URL without query, fragment or credentials, and
//! allowlisted headers. Body, cookies, query string and environment are removed.

use serde::{Deserialize, Serialize};

use crate::walk::values::{Pairs, Present, Val};
use crate::walk::{guards, Ctx};

/// `request`.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Request<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    method: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    url: Option<Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Pairs::is_empty")]
    headers: Pairs<'a, Val<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    api_target: Option<Val<'a>>,
    #[serde(skip_serializing)]
    data: Option<Present>,
    #[serde(skip_serializing)]
    query_string: Option<Present>,
    #[serde(skip_serializing)]
    cookies: Option<Present>,
    #[serde(skip_serializing)]
    env: Option<Present>,
    #[serde(skip_serializing)]
    fragment: Option<Present>,
}

impl Request<'_> {
    /// Walks `request`. `route` is the event's route template, when its transaction was
    /// named after one: the URL then carries the template's path, not the values in it.
    pub fn scrub(&mut self, cx: &mut Ctx<'_>, route: Option<&str>) {
        guards::token(&mut self.method);
        guards::token(&mut self.api_target);
        cx.key("url", |cx| cx.val_request_url(&mut self.url, route));
        let policy = cx.policy;
        let mut removed_headers = 0;
        self.headers.0.retain_mut(|(k, v)| {
            let Some(name) = policy
                .config
                .request_headers
                .iter()
                .find(|h| h.eq_ignore_ascii_case(k))
            else {
                removed_headers += 1;
                return false;
            };
            let mut slot = Some(std::mem::replace(v, Val::Other));
            cx.key("headers", |cx| cx.key(name, |cx| cx.val_text(&mut slot)));
            match slot {
                Some(s) => {
                    *v = s;
                    true
                }
                None => false,
            }
        });
        if removed_headers > 0 {
            cx.removed_silently("request.headers");
        }
        for (present, key, path) in [
            (self.data.take(), "data", "request.data"),
            (
                self.query_string.take(),
                "query_string",
                "request.query_string",
            ),
            (self.cookies.take(), "cookies", "request.cookies"),
            (self.env.take(), "env", "request.env"),
            (self.fragment.take(), "fragment", "request.fragment"),
        ] {
            if present.is_some() {
                cx.removed(key, path);
            }
        }
    }
}
