//! The templates (embedded, minijinja, HTML auto-escaping for every `.html` template) and the helpers
//! that render a page.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use minijinja::{AutoEscape, Environment, Value};

use super::auth::Session;
use super::AppState;

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("templates/base.html")),
    ("login.html", include_str!("templates/login.html")),
    ("overview.html", include_str!("templates/overview.html")),
    ("findings.html", include_str!("templates/findings.html")),
    ("finding.html", include_str!("templates/finding.html")),
    ("rules.html", include_str!("templates/rules.html")),
    ("kb.html", include_str!("templates/kb.html")),
    ("runs.html", include_str!("templates/runs.html")),
];

pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    // Every template is HTML: escape everything, whatever the file name says.
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    for (name, source) in TEMPLATES {
        env.add_template(name, source)
            .unwrap_or_else(|e| panic!("built-in template {name} does not parse: {e}"));
    }
    env
}

/// Renders a template; a template error is a 500 with one line (logged), never a half page.
pub fn page(state: &AppState, name: &str, context: Value) -> Response {
    match state
        .templates
        .get_template(name)
        .and_then(|t| t.render(context))
    {
        Ok(html) => Html(html).into_response(),
        Err(err) => {
            eprintln!("trailguard web: template {name}: {err}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be drawn\n",
            )
                .into_response()
        }
    }
}

/// Renders a page of the logged-in dashboard: the layout needs the user, role and CSRF token.
pub fn user_page(state: &AppState, session: &Session, name: &str, context: Value) -> Response {
    let context = minijinja::context! {
        user => &session.user,
        role => session.role.as_str(),
        is_admin => session.role == crate::store::dashboard::Role::Admin,
        csrf => &session.csrf,
        no_auth => state.auth == super::AuthMode::Disabled,
        ..context
    };
    page(state, name, context)
}

/// Server-built HTML (escaped where it holds record values) that a template prints as is.
pub fn trusted(html: String) -> Value {
    Value::from_safe_string(html)
}
