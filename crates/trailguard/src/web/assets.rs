//! The stylesheet and the one script (copy buttons), served from the binary: no external asset, and
//! no inline script or style, so the CSP can be `'self'` only.

use axum::http::header;
use axum::response::IntoResponse;

pub async fn style() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("static/style.css"),
    )
}

pub async fn copy_js() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("static/copy.js"),
    )
}
