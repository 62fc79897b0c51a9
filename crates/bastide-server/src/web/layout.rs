//! The layout of every page: a skip link, the header (the navigation, with each role's
//! pages for a signed-in person, who they are and signing out, the language switch),
//! the main content and the footer. Also the small pieces pages share: an alert, a
//! notice, a hidden CSRF field, dates.

use bastide_access::Role;
use maud::{DOCTYPE, Markup, html};

use super::i18n::{Lang, Text};
use super::signed::Viewer;

/// The pages of the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Nav {
    Catalogue,
    Registry,
    Feasibility,
    Projects,
    Review,
    Audit,
    Admin,
    None,
}

/// A whole page: `title`, at `path` (where the language switch comes back to), for
/// `viewer` when someone is signed in.
pub(super) fn page(
    lang: Lang,
    viewer: Option<&Viewer>,
    title: &str,
    current: Nav,
    path: &str,
    content: Markup,
) -> Markup {
    let other = lang.other();
    let link = |to: &str, nav: Nav, text: &str| {
        html! {
            li { a href=(to) aria-current=[(current == nav).then_some("page")] { (text) } }
        }
    };
    let has = |role| viewer.is_some_and(|v| v.roles.has(role));
    let back = url::form_urlencoded::byte_serialize(path.as_bytes()).collect::<String>();
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Bastide" }
                link rel="icon" href="/assets/icon.svg" type="image/svg+xml";
                link rel="stylesheet" href="/assets/app.css";
            }
            body {
                a.skip href="#main" { (lang.t(Text::SkipToContent)) }
                header.top {
                    div.brand {
                        a.name href="/" { "Bastide" }
                        span.tagline { (lang.t(Text::Hub)) }
                    }
                    nav aria-label=(lang.t(Text::MainNavigation)) {
                        ul {
                            (link("/", Nav::Catalogue, lang.t(Text::Catalogue)))
                            (link("/registry", Nav::Registry, lang.t(Text::Registry)))
                            (link("/feasibility", Nav::Feasibility, lang.pick("Faisabilité", "Feasibility")))
                            (link("/projects", Nav::Projects, lang.t(Text::MyProjects)))
                            @if has(Role::Steward) {
                                (link("/review", Nav::Review, lang.pick("Instruction", "Review")))
                            }
                            @if has(Role::Auditor) {
                                (link("/audit", Nav::Audit, lang.pick("Journal d'audit", "Audit log")))
                            }
                            @if has(Role::Admin) {
                                (link("/admin", Nav::Admin, lang.pick("Administration", "Administration")))
                            }
                        }
                    }
                    div.account {
                        @if let Some(viewer) = viewer {
                            a.who href="/account" aria-current=[(path == "/account").then_some("page")] { (viewer.name) }
                            form.inline method="post" action="/sign-out" {
                                (csrf(&viewer.csrf))
                                button.link type="submit" { (lang.t(Text::SignOut)) }
                            }
                        }
                        a.lang href={ "/lang/" (other.code()) "?to=" (back) } lang=(other.code()) hreflang=(other.code()) {
                            (lang.t(Text::OtherLanguage))
                        }
                    }
                }
                main #main tabindex="-1" {
                    h1 { (title) }
                    (content)
                }
                footer.bottom { p { (lang.t(Text::Footer)) } }
            }
        }
    }
}

/// The hidden field carrying the session's CSRF token in a form.
pub(super) fn csrf(token: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(token); }
}

/// An alert saying why something was refused, and what to do.
pub(super) fn alert(message: Option<&str>) -> Markup {
    html! {
        @if let Some(message) = message {
            div.error role="alert" { p { (message) } }
        }
    }
}

/// A notice that something was done.
pub(super) fn notice(message: Option<&str>) -> Markup {
    html! {
        @if let Some(message) = message {
            div.notice role="status" { p { (message) } }
        }
    }
}

/// The day of a time in seconds since the Unix epoch, `YYYY-MM-DD`.
pub(super) fn day(seconds: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .map(|t| t.date().to_string())
        .unwrap_or_default()
}

/// A time in seconds since the Unix epoch, `YYYY-MM-DD HH:MM:SS` UTC.
pub(super) fn moment(seconds: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .map(|t| {
            format!(
                "{} {:02}:{:02}:{:02}",
                t.date(),
                t.hour(),
                t.minute(),
                t.second()
            )
        })
        .unwrap_or_default()
}
