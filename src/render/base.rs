//! What every page shares, site pages and the preview's review pages alike: the site title,
//! navigation, breadcrumbs, the path back to the site's root, and the revision and latest
//! month in the footer. One function builds that context, so no page family drifts from it.

use minijinja::value::Serde;
use minijinja::{Environment, Value, context};
use serde::Serialize;

/// One link in navigation, breadcrumbs or lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Link {
    pub label: String,
    pub href: String,
}

impl Link {
    pub fn new(label: impl Into<String>, href: impl Into<String>) -> Link {
        Link {
            label: label.into(),
            href: href.into(),
        }
    }
}

/// The context of `base.html`.
#[derive(Debug, Clone)]
pub struct BasePage {
    pub site_title: String,
    pub title: String,
    /// The relative path from the page to the site's root (`../../`), or `/` when served.
    pub root: String,
    pub path: String,
    pub nav: Vec<Link>,
    pub breadcrumbs: Vec<Link>,
    pub revision: Option<String>,
    pub latest_month: Option<String>,
}

/// Renders `template` with the shared context and the page's own values under `page`.
pub fn render_page(
    env: &Environment<'_>,
    template: &str,
    base: &BasePage,
    page: Value,
) -> Result<String, minijinja::Error> {
    env.get_template(template)?.render(context! {
        site_title => base.site_title.clone(),
        title => base.title.clone(),
        root => base.root.clone(),
        path => base.path.clone(),
        nav => Value::from(Serde(&base.nav)),
        breadcrumbs => Value::from(Serde(&base.breadcrumbs)),
        revision => base.revision.clone(),
        latest_month => base.latest_month.clone(),
        page => page,
    })
}
