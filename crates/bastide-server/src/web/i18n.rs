//! The interface's two languages. The language is the visitor's choice (a cookie set
//! by the switch in every page's header), else the first of French and English their
//! browser prefers (`Accept-Language`), else French.

use axum::http::HeaderMap;
use axum::http::header::ACCEPT_LANGUAGE;

/// The cookie holding the visitor's choice.
pub(super) const COOKIE_NAME: &str = "bastide_lang";

/// A language of the interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lang {
    Fr,
    En,
}

impl Lang {
    /// The language for a request.
    pub(super) fn of(headers: &HeaderMap) -> Self {
        let chosen =
            crate::api::auth::cookie(headers, COOKIE_NAME).and_then(|value| Self::parse(&value));
        if let Some(lang) = chosen {
            return lang;
        }
        headers
            .get(ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.split(',')
                    .filter_map(|part| part.split(';').next())
                    .find_map(|tag| Self::parse(tag.trim().split('-').next().unwrap_or("")))
            })
            .unwrap_or(Lang::Fr)
    }

    /// `fr` or `en`.
    pub(super) fn parse(code: &str) -> Option<Self> {
        match code.to_ascii_lowercase().as_str() {
            "fr" => Some(Lang::Fr),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// Its code, as in `<html lang>`.
    pub(super) fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::En => "en",
        }
    }

    /// The other language, offered by the switch.
    pub(super) fn other(self) -> Self {
        match self {
            Lang::Fr => Lang::En,
            Lang::En => Lang::Fr,
        }
    }

    /// `fr` or `en`, as this language is: for a text used on one page only.
    pub(super) fn pick<'a>(self, fr: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Fr => fr,
            Lang::En => en,
        }
    }

    /// The text of `key` in this language.
    pub(super) fn t(self, key: Text) -> &'static str {
        let (fr, en) = match key {
            Text::Hub => ("Entrepôt de données de santé", "Health data hub"),
            Text::Catalogue => ("Catalogue", "Catalogue"),
            Text::MainNavigation => ("Navigation principale", "Main navigation"),
            Text::Registry => ("Registre des projets", "Project registry"),
            Text::OtherLanguage => ("English", "Français"),
            Text::MyProjects => ("Mes projets", "My projects"),
            Text::SignIn => ("Se connecter", "Sign in"),
            Text::SignOut => ("Se déconnecter", "Sign out"),
            Text::UserName => ("Nom d'utilisateur", "User name"),
            Text::Password => ("Mot de passe", "Password"),
            Text::TotpCode => ("Code à usage unique", "One-time code"),
            Text::TotpHint => (
                "Les six chiffres de votre application d'authentification, si votre compte a un second facteur.",
                "The six digits from your authenticator app, if your account has a second factor.",
            ),
            Text::NoOwnProject => (
                "Vous n'êtes membre d'aucun projet pour l'instant.",
                "You are a member of no project yet.",
            ),
            Text::Title => ("Titre", "Title"),
            Text::ForeignForm => ("Formulaire refusé", "Form refused"),
            Text::ForeignFormHint => (
                "Ce formulaire venait d'un autre site : il n'a pas été pris en compte. Repartez des pages du hub.",
                "This form came from another site: it was not taken into account. Start again from the hub's pages.",
            ),
            Text::Apply => ("Demander un accès", "Apply for access"),
            Text::LegalBasis => ("Base légale", "Legal basis"),
            Text::TablesOf => ("Tables demandées de", "Tables asked for, of"),
            Text::DurationDays => ("Durée (jours)", "Duration (days)"),
            Text::SendApplication => ("Enregistrer la demande", "Save the application"),
            Text::SkipToContent => ("Aller au contenu", "Skip to content"),
            Text::CatalogueIntro => (
                "Les jeux de données de ce hub, leurs tables et leurs colonnes. Les données elles-mêmes ne sont accessibles qu'aux projets autorisés, dans leur espace de travail.",
                "The datasets of this hub, their tables and columns. The data itself is open only to approved projects, in their workspace.",
            ),
            Text::Search => ("Rechercher", "Search"),
            Text::SearchLabel => (
                "Rechercher un jeu de données, une table ou une colonne",
                "Search a dataset, a table or a column",
            ),
            Text::NoDataset => ("Aucun jeu de données ne correspond.", "No dataset matches."),
            Text::Version => ("version", "version"),
            Text::NoVersion => ("aucune donnée encore", "no data yet"),
            Text::Rows => ("lignes", "rows"),
            Text::Coverage => ("période", "period"),
            Text::Column => ("Colonne", "Column"),
            Text::Type => ("Type", "Type"),
            Text::Description => ("Description", "Description"),
            Text::Nomenclature => ("Nomenclature", "Nomenclature"),
            Text::DummyData => (
                "Télécharger des données fictives (CSV)",
                "Download dummy data (CSV)",
            ),
            Text::DummyHint => (
                "100 lignes qui suivent le schéma et ne décrivent personne, pour écrire votre code avant l'accès.",
                "100 rows that follow the schema and describe no one, to write your code before access.",
            ),
            Text::Identifier => ("identifiant (pseudonymisé)", "identifier (pseudonymised)"),
            Text::RegistryIntro => (
                "Les projets autorisés à travailler sur les données de ce hub, et les résultats qu'ils ont publiés (titres et noms de fichiers, jamais leur contenu).",
                "The projects approved to work on this hub's data, and the results they released (titles and file names, never their contents).",
            ),
            Text::NoProject => (
                "Aucun projet autorisé pour l'instant.",
                "No approved project yet.",
            ),
            Text::Organisation => ("Organisme", "Organisation"),
            Text::Purpose => ("Finalité", "Purpose"),
            Text::Dataset => ("Jeu de données", "Dataset"),
            Text::State => ("État", "State"),
            Text::Approved => ("Autorisé le", "Approved on"),
            Text::Outputs => ("Résultats publiés", "Released outputs"),
            Text::NoOutput => ("aucun", "none"),
            Text::NotFound => ("Page introuvable", "Page not found"),
            Text::NotFoundHint => (
                "Cette adresse ne mène à aucune page. Repartez du catalogue.",
                "This address leads to no page. Start again from the catalogue.",
            ),
            Text::Unavailable => ("Page indisponible", "Page unavailable"),
            Text::UnavailableHint => (
                "Le hub n'a pas pu construire cette page. Réessayez dans un instant ; si cela persiste, donnez à l'opérateur cette référence :",
                "The hub could not build this page. Try again in a moment; if it persists, give the operator this reference:",
            ),
            Text::Footer => (
                "Bastide : données hébergées et chiffrées chez l'opérateur, journal d'audit infalsifiable.",
                "Bastide: data hosted and encrypted by the operator, tamper-evident audit log.",
            ),
        };
        match self {
            Lang::Fr => fr,
            Lang::En => en,
        }
    }
}

/// The interface's texts.
#[derive(Debug, Clone, Copy)]
pub(super) enum Text {
    Hub,
    Catalogue,
    MainNavigation,
    Registry,
    OtherLanguage,
    MyProjects,
    SignIn,
    SignOut,
    UserName,
    Password,
    TotpCode,
    TotpHint,
    NoOwnProject,
    Title,
    ForeignForm,
    ForeignFormHint,
    Apply,
    LegalBasis,
    TablesOf,
    DurationDays,
    SendApplication,
    SkipToContent,
    CatalogueIntro,
    Search,
    SearchLabel,
    NoDataset,
    Version,
    NoVersion,
    Rows,
    Coverage,
    Column,
    Type,
    Description,
    Nomenclature,
    DummyData,
    DummyHint,
    Identifier,
    RegistryIntro,
    NoProject,
    Organisation,
    Purpose,
    Dataset,
    State,
    Approved,
    Outputs,
    NoOutput,
    NotFound,
    NotFoundHint,
    Unavailable,
    UnavailableHint,
    Footer,
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use axum::http::header::COOKIE;

    fn headers(pairs: &[(axum::http::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        h
    }

    #[test]
    fn the_choice_wins_over_the_browser_which_wins_over_french() {
        assert_eq!(Lang::of(&HeaderMap::new()), Lang::Fr);
        assert_eq!(
            Lang::of(&headers(&[(ACCEPT_LANGUAGE, "de-DE,en-GB;q=0.8,fr;q=0.5")])),
            Lang::En
        );
        assert_eq!(
            Lang::of(&headers(&[
                (ACCEPT_LANGUAGE, "en-GB"),
                (COOKIE, "other=1; bastide_lang=fr")
            ])),
            Lang::Fr
        );
        assert_eq!(Lang::of(&headers(&[(COOKIE, "bastide_lang=xx")])), Lang::Fr);
    }
}
