//! JSON answers, shared by the SDK listener and the admin listener. Depends on nothing else
//! in the crate.

use bytes::Bytes;
use http::{header, Response, StatusCode};
use http_body_util::Full;

/// A JSON response.
pub fn json(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    resp
}
