//! Turns analysed data into the site: one minijinja environment, SVG charts and maps, data
//! downloads (JSON and CSV) and every page. Pure: values in, a `Site` out; nothing is written.

pub mod base;
pub mod chart;
pub mod comparison_chart;
pub mod datapackage;
mod evidence_views;
pub mod format;
mod info_pages;
mod report_pages;
pub mod site;
pub mod spc_chart;
mod template_pages;
pub mod tilemap;
mod views;

use minijinja::{AutoEscape, Environment, UndefinedBehavior};

use crate::snapshot::Theme;

/// The single template environment: strict about undefined values, escaping HTML and SVG.
pub fn environment(theme: &Theme) -> Result<Environment<'static>, minijinja::Error> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") || name.ends_with(".svg") || name.ends_with(".xml") {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    for (name, source) in &theme.templates {
        env.add_template_owned(name.clone(), source.clone())?;
    }
    Ok(env)
}

/// A render error with the template name and line, as minijinja reports it.
pub fn describe_template_error(error: &minijinja::Error) -> String {
    let mut text = error.to_string();
    if let (Some(name), Some(line)) = (error.name(), error.line()) {
        text = format!("{name}:{line}: {text}");
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}
