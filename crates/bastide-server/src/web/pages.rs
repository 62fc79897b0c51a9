//! The pages' HTML: one layout (skip link, header with the navigation and the language
//! switch, main, footer) and each page's content. Everything shown is escaped by
//! `maud`; nothing inline runs or styles.

use bastide_access::{RegistryEntry, ReleaseState, State};
use bastide_hub::catalogue::DatasetEntry;
use maud::{Markup, html};

use super::i18n::{Lang, Text};
use super::layout::{Nav, csrf, day, page};
use super::signed::Viewer;

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
    page(lang, None, t(Text::Catalogue), Nav::Catalogue, "/", content)
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
                    dt { (t(Text::State)) } dd { (project_state(lang, project.state)) }
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
    page(
        lang,
        None,
        t(Text::Registry),
        Nav::Registry,
        "/registry",
        content,
    )
}

/// The page of a hub that could not answer, with the reference of its log line.
pub(super) fn unavailable(lang: Lang, reference: &str) -> Markup {
    let content = html! {
        p { (lang.t(Text::UnavailableHint)) " " code { (reference) } }
    };
    page(
        lang,
        None,
        lang.t(Text::Unavailable),
        Nav::None,
        "/",
        content,
    )
}

/// The sign-in form, with what was typed (the password aside) and why it was refused;
/// `next` is where to go once signed in; `resend`, the fields of a form whose session
/// had ended (perhaps none but its token), to send again to `next` once signed in.
pub(super) fn sign_in(
    lang: Lang,
    name: &str,
    refused: Option<&str>,
    next: &str,
    resend: Option<&[(String, String)]>,
) -> Markup {
    let t = |key| lang.t(key);
    let content = html! {
        (super::layout::alert(refused))
        @if resend.is_some() {
            div.notice role="status" {
                p { (lang.pick(
                    "Votre session a pris fin : reconnectez-vous. Ce que vous aviez saisi est gardé et sera renvoyé ensuite.",
                    "Your session has ended: sign in again. What you typed is kept and will be sent again afterwards.",
                )) }
            }
        }
        form.sign-in method="post" action="/sign-in" {
            @if !next.is_empty() {
                input type="hidden" name="next" value=(next);
            }
            @if let Some(carried) = resend {
                input type="hidden" name="resend" value="1";
                @for (field, value) in carried {
                    input type="hidden" name={ "carry." (field) } value=(value);
                }
            }
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
        p.oidc {
            a href="/sign-in/oidc" { (lang.pick("Se connecter avec le fournisseur d'identité de votre organisme", "Sign in with your organisation's identity provider")) }
        }
    };
    page(
        lang,
        None,
        t(Text::SignIn),
        Nav::Projects,
        "/sign-in",
        content,
    )
}

/// A request refused for a while, and why.
pub(super) fn busy(lang: Lang, message: &str) -> Markup {
    let content = html! {
        div.error role="alert" { p { (message) } }
        p { (lang.pick("Réessayez dans quelques minutes.", "Try again in a few minutes.")) }
    };
    page(
        lang,
        None,
        lang.pick("Trop de tentatives", "Too many attempts"),
        Nav::None,
        "/",
        content,
    )
}

/// Signed in through the organisation's identity provider: on to the projects.
pub(super) fn oidc_signed_in(lang: Lang, name: &str) -> Markup {
    let content = html! {
        div.notice role="status" { p { (lang.pick("Connecté en tant que", "Signed in as")) " " strong { (name) } "." } }
        p { a.button href="/projects" { (lang.pick("Continuer vers mes projets", "Continue to my projects")) } }
    };
    page(
        lang,
        None,
        lang.t(Text::SignIn),
        Nav::Projects,
        "/projects",
        content,
    )
}

/// Why a form comes back to be sent again.
#[derive(Debug, Clone, Copy)]
pub(super) enum Again<'a> {
    /// Its session had ended; the person signed in again.
    SignedIn,
    /// It did not carry the session's token.
    Stale,
    /// Too many failed attempts from this address: wait, then send it.
    Busy(&'a str),
}

/// A form that could not be taken as sent (its session had ended, its token was not
/// this session's, or the address must wait): what was typed, shown and ready to send
/// again to `to`.
pub(super) fn send_again(
    lang: Lang,
    to: &str,
    typed: &[(String, String)],
    token: &str,
    why: Again<'_>,
) -> Markup {
    let content = html! {
        @match why {
            Again::SignedIn => {
                div.notice role="status" { p { (lang.pick(
                    "Vous êtes de nouveau connecté. Vérifiez ce que vous aviez saisi et envoyez-le.",
                    "You are signed in again. Check what you had typed and send it.",
                )) } }
            },
            Again::Stale => {
                div.error role="alert" { p { (lang.pick(
                    "Ce formulaire ne portait pas le jeton de votre session (une page ouverte avant votre dernière connexion ?) : il n'a pas été pris en compte. Ce que vous aviez saisi est ci-dessous ; envoyez-le à nouveau si c'est bien vous.",
                    "This form did not carry your session's token (a page opened before you last signed in?): it was not taken into account. What you had typed is below; send it again if it was you.",
                )) } }
            },
            Again::Busy(message) => {
                div.error role="alert" { p { (message) " " (lang.pick(
                    "Ce que vous aviez saisi est ci-dessous : envoyez-le à nouveau ensuite.",
                    "What you had typed is below: send it again then.",
                )) } }
            },
        }
        form.again method="post" action=(to) {
            (csrf(token))
            dl {
                @for (field, value) in typed {
                    dt { (field) }
                    dd { pre.typed { (value) } input type="hidden" name=(field) value=(value); }
                }
            }
            button type="submit" { (lang.pick("Envoyer à nouveau", "Send again")) }
        }
    };
    page(
        lang,
        None,
        lang.pick("Envoyer à nouveau", "Send again"),
        Nav::None,
        "/projects",
        content,
    )
}

/// The application form, with what was typed and why it was refused.
pub(super) fn application(
    lang: Lang,
    viewer: &Viewer,
    datasets: &[DatasetEntry],
    typed: &super::apply::Typed,
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
            (csrf(&viewer.csrf))
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
                        @let value = format!("{}/{}", d.name, table.name);
                        div.check {
                            input id=(id) type="checkbox" name="table" value=(value) checked[typed.tables.contains(&value)];
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
        Some(viewer),
        t(Text::Apply),
        Nav::Projects,
        "/projects/new",
        content,
    )
}

/// The page of a form sent from another site.
pub(super) fn foreign_form(lang: Lang) -> Markup {
    let content = html! {
        p { (lang.t(Text::ForeignFormHint)) " " a href="/" { (lang.t(Text::Catalogue)) } }
    };
    page(
        lang,
        None,
        lang.t(Text::ForeignForm),
        Nav::None,
        "/",
        content,
    )
}

/// The page of an address that leads nowhere.
pub(super) fn not_found(lang: Lang) -> Markup {
    let content = html! {
        p { (lang.t(Text::NotFoundHint)) " " a href="/" { (lang.t(Text::Catalogue)) } }
    };
    page(lang, None, lang.t(Text::NotFound), Nav::None, "/", content)
}

/// A project's state, in words.
pub(super) fn project_state(lang: Lang, state: State) -> &'static str {
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

/// A release request's state, in words.
pub(super) fn release_state(lang: Lang, state: ReleaseState) -> &'static str {
    let (fr, en) = match state {
        ReleaseState::Draft => ("brouillon", "draft"),
        ReleaseState::Submitted => ("soumise", "submitted"),
        ReleaseState::PartiallyReviewed => ("approuvée une fois", "approved once"),
        ReleaseState::Approved => ("approuvée", "approved"),
        ReleaseState::Rejected => ("refusée", "rejected"),
        ReleaseState::Returned => ("renvoyée pour modification", "returned for changes"),
        ReleaseState::Released => ("sortie", "released"),
        ReleaseState::Withdrawn => ("retirée", "withdrawn"),
    };
    lang.pick(fr, en)
}

/// A word the hub records (a query's status, a release request's step), in the page's
/// language; one it does not know as it is.
pub(super) fn recorded(lang: Lang, word: &str) -> &str {
    let (fr, en) = match word {
        "running" => ("en cours", "running"),
        "succeeded" => ("réussie", "succeeded"),
        "failed" => ("échouée", "failed"),
        "refused" => ("refusée", "refused"),
        "cancelled" => ("annulée", "cancelled"),
        "created" => ("créée", "created"),
        "file_added" => ("fichier ajouté", "file added"),
        "file_removed" => ("fichier retiré", "file removed"),
        "submitted" => ("soumise", "submitted"),
        "approved" => ("approuvée", "approved"),
        "rejected" => ("refusée", "rejected"),
        "returned" => ("renvoyée", "returned"),
        "released" => ("sortie", "released"),
        "withdrawn" => ("retirée", "withdrawn"),
        "comment" => ("commentaire", "comment"),
        other => return other,
    };
    lang.pick(fr, en)
}
