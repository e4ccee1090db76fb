//! Light, dark, or the system's setting. The footer's buttons post the
//! choice to `/preferences/theme`, which keeps it in the `theme` cookie; the
//! server renders it as `<html data-theme>` and the stylesheet follows the
//! system when there is none. No script is needed before the first paint.

/// The cookie that remembers the choice.
pub const COOKIE: &str = "theme";

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Theme {
    /// No choice: follow the system's setting.
    #[default]
    System,
    Light,
    Dark,
}

impl Theme {
    pub const ALL: [Theme; 3] = [Theme::Light, Theme::Dark, Theme::System];

    pub fn as_str(self) -> &'static str {
        match self {
            Theme::System => "system",
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Theme::System => "System",
            Theme::Light => "Light",
            Theme::Dark => "Dark",
        }
    }

    /// `light`, `dark` or `system`; anything else is not a theme.
    pub fn parse(value: &str) -> Option<Theme> {
        Theme::ALL.into_iter().find(|t| t.as_str() == value)
    }

    /// What `<html data-theme>` says: nothing when following the system.
    pub fn attribute(self) -> Option<&'static str> {
        (self != Theme::System).then(|| self.as_str())
    }

    /// The choice a `Cookie` header carries; the system's when none.
    pub fn from_cookie_header(header: &str) -> Theme {
        header
            .split(';')
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == COOKIE)
            .and_then(|(_, value)| Theme::parse(value))
            .unwrap_or_default()
    }
}

/// The theme this page was rendered with: the request's cookie on the
/// server, the `<html data-theme>` the server wrote in the browser, so both
/// sides agree while hydrating.
pub fn current() -> Theme {
    #[cfg(feature = "ssr")]
    {
        leptos::prelude::use_context::<http::request::Parts>()
            .and_then(|parts| {
                parts
                    .headers
                    .get(http::header::COOKIE)
                    .and_then(|v| v.to_str().ok())
                    .map(Theme::from_cookie_header)
            })
            .unwrap_or_default()
    }
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    {
        leptos::prelude::document()
            .document_element()
            .and_then(|html| html.get_attribute("data-theme"))
            .and_then(|value| Theme::parse(&value))
            .unwrap_or_default()
    }
    #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
    {
        Theme::System
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_names_the_theme() {
        assert_eq!(Theme::from_cookie_header("a=b; theme=dark"), Theme::Dark);
        assert_eq!(Theme::from_cookie_header("theme=light"), Theme::Light);
        assert_eq!(Theme::from_cookie_header("theme=purple"), Theme::System);
        assert_eq!(Theme::from_cookie_header("id=1"), Theme::System);
        assert_eq!(Theme::from_cookie_header("mytheme=dark"), Theme::System);
    }

    #[test]
    fn only_a_choice_is_written_on_the_page() {
        assert_eq!(Theme::Dark.attribute(), Some("dark"));
        assert_eq!(Theme::System.attribute(), None);
        assert_eq!(Theme::parse("system"), Some(Theme::System));
        assert_eq!(Theme::parse(""), None);
    }
}
