//! The pages' HTML: one layout (skip link, header with the navigation and the language
//! switch, main, footer) and each page's content. Everything shown is escaped by
//! `maud`; nothing inline runs or styles.

use bastide_access::{Project, RegistryEntry, State};
use bastide_hub::catalogue::DatasetEntry;
use maud::{DOCTYPE, Markup, html};

use super::i18n::{Lang, Text};

/// The pages of the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Nav {
    Catalogue,
    Registry,
    Projects,
    None,
}

/// A whole page: `title`, at `path` (where the language switch comes back to).
fn page(lang: Lang, title: &str, current: Nav, path: &str, content: Markup) -> Markup {
    let other = lang.other();
    let link = |to: &str, nav: Nav, text: Text| {
        html! {
            a href=(to) aria-current=[(current == nav).then_some("page")] { (lang.t(text)) }
        }
    };
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
                            li { (link("/", Nav::Catalogue, Text::Catalogue)) }
                            li { (link("/registry", Nav::Registry, Text::Registry)) }
                            li { (link("/projects", Nav::Projects, Text::MyProjects)) }
                        }
                    }
                    a.lang href={ "/lang/" (other.code()) "?to=" (path) } lang=(other.code()) hreflang=(other.code()) {
                        (lang.t(Text::OtherLanguage))
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

/// The public catalogue, narrowed to `word` when one is searched.
pub(super) fn catalogue(lang: Lang, entries: &[DatasetEntry], word: &str) -> Markup {
    let t = |key| lang.t(key);
    let content = html! {
        p.intro { (t(Text::CatalogueIntro)) }
        form.search role="search" method="get" action="/" {
            label for="q" { (t(Text::SearchLabel)) }
            div.field {
                input #q type="search" name="q" value=(word) autocomplete="off";
                button type="submit" { (t(Text::Search)) }
            }
        }
        @if entries.is_empty() {
            p.empty { (t(Text::NoDataset)) }
        }
        @for dataset in entries {
            section.dataset aria-labelledby={ "ds-" (dataset.name) } {
                h2 #{ "ds-" (dataset.name) } { (dataset.name) }
                p.meta {
                    @match dataset.version {
                        Some(v) => { (t(Text::Version)) " " (v) },
                        None => { (t(Text::NoVersion)) },
                    }
                }
                @for table in &dataset.tables {
                    details.table {
                        summary {
                            span.table-name { (table.name) }
                            span.meta {
                                " · " (table.rows) " " (t(Text::Rows))
                                @if let Some(c) = &table.coverage {
                                    " · " (t(Text::Coverage)) " " (c.start) " – " (c.end)
                                }
                            }
                        }
                        p.dummy {
                            a href={ "/api/v1/catalogue/datasets/" (dataset.name) "/tables/" (table.name) "/dummy?rows=100" }
                                download={ (table.name) "-dummy.csv" } {
                                (t(Text::DummyData)) span.visually-hidden { " " (table.name) }
                            }
                            " " (t(Text::DummyHint))
                        }
                        table {
                            caption.visually-hidden { (table.name) }
                            thead {
                                tr {
                                    th scope="col" { (t(Text::Column)) }
                                    th scope="col" { (t(Text::Type)) }
                                    th scope="col" { (t(Text::Description)) }
                                    th scope="col" { (t(Text::Nomenclature)) }
                                }
                            }
                            tbody {
                                @for column in &table.columns {
                                    tr {
                                        th scope="row" {
                                            code { (column.name) }
                                            @if column.identifier {
                                                span.badge { (t(Text::Identifier)) }
                                            }
                                        }
                                        td { (column.r#type) }
                                        td { (column.description) }
                                        td { @if let Some(n) = &column.nomenclature { code { (n) } } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    page(lang, t(Text::Catalogue), Nav::Catalogue, "/", content)
}

/// The public registry of approved projects.
pub(super) fn registry(lang: Lang, entries: &[RegistryEntry]) -> Markup {
    let t = |key| lang.t(key);
    let content = html! {
        p.intro { (t(Text::RegistryIntro)) }
        @if entries.is_empty() {
            p.empty { (t(Text::NoProject)) }
        }
        @for project in entries {
            article.project aria-labelledby={ "p-" (project.id) } {
                h2 #{ "p-" (project.id) } { (project.title) }
                dl {
                    dt { (t(Text::Organisation)) } dd { (project.organisation) }
                    dt { (t(Text::Purpose)) } dd { (project.purpose) }
                    dt { (t(Text::Dataset)) } dd { code { (project.dataset) } }
                    dt { (t(Text::State)) } dd { (state(lang, project.state)) }
                    @if let Some(at) = project.approved_at {
                        dt { (t(Text::Approved)) } dd { (day(at)) }
                    }
                    dt { (t(Text::Outputs)) }
                    dd {
                        @if project.outputs.is_empty() {
                            (t(Text::NoOutput))
                        } @else {
                            ul {
                                @for output in &project.outputs {
                                    li {
                                        (output.title) " (" (day(output.released_at)) ")"
                                        @if !output.files.is_empty() {
                                            ": " (output.files.join(", "))
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    page(lang, t(Text::Registry), Nav::Registry, "/registry", content)
}

/// The page of a hub that could not answer, with the reference of its log line.
pub(super) fn unavailable(lang: Lang, reference: &str) -> Markup {
    let content = html! {
        p { (lang.t(Text::UnavailableHint)) " " code { (reference) } }
    };
    page(lang, lang.t(Text::Unavailable), Nav::None, "/", content)
}

/// The sign-in form, with what was typed (the password aside) and why it was refused.
pub(super) fn sign_in(lang: Lang, name: &str, refused: Option<&str>) -> Markup {
    let t = |key| lang.t(key);
    let content = html! {
        @if let Some(message) = refused {
            div.error role="alert" { p { (message) } }
        }
        form.sign-in method="post" action="/sign-in" {
            div.field {
                label for="name" { (t(Text::UserName)) }
                input #name type="text" name="name" value=(name) autocomplete="username" required;
            }
            div.field {
                label for="password" { (t(Text::Password)) }
                input #password type="password" name="password" autocomplete="current-password" required;
            }
            div.field {
                label for="totp" { (t(Text::TotpCode)) }
                input #totp type="text" name="totp" inputmode="numeric" autocomplete="one-time-code" aria-describedby="totp-hint";
                p #totp-hint .hint { (t(Text::TotpHint)) }
            }
            button type="submit" { (t(Text::SignIn)) }
        }
    };
    page(lang, t(Text::SignIn), Nav::Projects, "/sign-in", content)
}

/// The application form, with what was typed and why it was refused.
pub(super) fn application(
    lang: Lang,
    datasets: &[DatasetEntry],
    typed: &super::apply::Typed,
    csrf: &str,
    refused: Option<&str>,
) -> Markup {
    let t = |key| lang.t(key);
    let text = |id: &str, name: &str, label: Text, value: &str| {
        html! {
            div.field {
                label for=(id) { (t(label)) }
                input id=(id) type="text" name=(name) value=(value) required;
            }
        }
    };
    let content = html! {
        @if let Some(message) = refused {
            div.error role="alert" { p { (message) } }
        }
        form.application method="post" action="/projects/new" {
            input type="hidden" name="csrf" value=(csrf);
            (text("title", "title", Text::Title, &typed.title))
            div.field {
                label for="purpose" { (t(Text::Purpose)) }
                textarea #purpose name="purpose" rows="4" required { (typed.purpose) }
            }
            (text("legal_basis", "legal_basis", Text::LegalBasis, &typed.legal_basis))
            (text("organisation", "organisation", Text::Organisation, &typed.organisation))
            div.field {
                label for="dataset" { (t(Text::Dataset)) }
                select #dataset name="dataset" required {
                    @for d in datasets {
                        option value=(d.name) selected[d.name == typed.dataset] { (d.name) }
                    }
                }
            }
            @for d in datasets {
                fieldset.tables {
                    legend { (t(Text::TablesOf)) " " code { (d.name) } }
                    @for table in &d.tables {
                        @let id = format!("table-{}-{}", d.name, table.name);
                        div.check {
                            input id=(id) type="checkbox" name="table" value=(table.name) checked[typed.tables.contains(&table.name)];
                            label for=(id) { code { (table.name) } }
                        }
                    }
                }
            }
            div.field {
                label for="duration_days" { (t(Text::DurationDays)) }
                input #duration_days type="number" name="duration_days" min="1" value=(typed.duration_days) required;
            }
            button type="submit" { (t(Text::SendApplication)) }
        }
    };
    page(
        lang,
        t(Text::Apply),
        Nav::Projects,
        "/projects/new",
        content,
    )
}

/// The signed-in person's projects.
pub(super) fn projects(lang: Lang, name: &str, csrf: &str, projects: &[Project]) -> Markup {
    let t = |key| lang.t(key);
    let content = html! {
        div.who {
            p { (t(Text::SignedInAs)) " " strong { (name) } }
            form method="post" action="/sign-out" {
                input type="hidden" name="csrf" value=(csrf);
                button type="submit" { (t(Text::SignOut)) }
            }
        }
        p { a href="/projects/new" { (t(Text::Apply)) } }
        @if projects.is_empty() {
            p.empty { (t(Text::NoOwnProject)) }
        } @else {
            table.projects {
                caption.visually-hidden { (t(Text::MyProjects)) }
                thead {
                    tr {
                        th scope="col" { (t(Text::Title)) }
                        th scope="col" { (t(Text::Dataset)) }
                        th scope="col" { (t(Text::State)) }
                    }
                }
                tbody {
                    @for project in projects {
                        tr {
                            th scope="row" { (project.application.title) }
                            td { code { (project.application.dataset) } }
                            td { (state(lang, project.state)) }
                        }
                    }
                }
            }
        }
    };
    page(
        lang,
        t(Text::MyProjects),
        Nav::Projects,
        "/projects",
        content,
    )
}

/// The page of a form sent from another site.
pub(super) fn foreign_form(lang: Lang) -> Markup {
    let content = html! {
        p { (lang.t(Text::ForeignFormHint)) " " a href="/" { (lang.t(Text::Catalogue)) } }
    };
    page(lang, lang.t(Text::ForeignForm), Nav::None, "/", content)
}

/// The page of an address that leads nowhere.
pub(super) fn not_found(lang: Lang) -> Markup {
    let content = html! {
        p { (lang.t(Text::NotFoundHint)) " " a href="/" { (lang.t(Text::Catalogue)) } }
    };
    page(lang, lang.t(Text::NotFound), Nav::None, "/", content)
}

/// A project's state, in words.
fn state(lang: Lang, state: State) -> &'static str {
    match (lang, state) {
        (Lang::Fr, State::Draft) => "brouillon",
        (Lang::Fr, State::Submitted) => "soumis",
        (Lang::Fr, State::Approved) => "autorisé",
        (Lang::Fr, State::Rejected) => "refusé",
        (Lang::Fr, State::Active) => "en cours",
        (Lang::Fr, State::Closed) => "clos",
        (Lang::En, State::Draft) => "draft",
        (Lang::En, State::Submitted) => "submitted",
        (Lang::En, State::Approved) => "approved",
        (Lang::En, State::Rejected) => "rejected",
        (Lang::En, State::Active) => "active",
        (Lang::En, State::Closed) => "closed",
    }
}

/// The day of a time in seconds since the Unix epoch, `YYYY-MM-DD`.
fn day(seconds: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .map(|t| t.date().to_string())
        .unwrap_or_default()
}
