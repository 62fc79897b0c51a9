//! The permit editor of a steward, and a permit's summary. The form names tables and
//! columns of the project's dataset, typed row filters (a column, an operator, values
//! typed by the column's type: numbers for numeric columns, text otherwise), the mode,
//! the members and the dates; it becomes the API's [`Grant`], checked by the hub
//! (`Hub::grant`) as any other.

use bastide_access::{Filter, Grant, Mode, Permit, Project, Scalar};
use bastide_hub::catalogue::DatasetEntry;
use maud::{Markup, html};
use time::{Date, OffsetDateTime};

use super::i18n::Lang;
use super::layout::{csrf, day};
use super::signed::Fields;

/// Empty filter rows offered per table, beside its filters.
const EMPTY_FILTERS: usize = 1;

/// What the editor shows: what the steward typed, else the current permit, else the
/// application.
#[derive(Debug, Default)]
struct Shown {
    mode: String,
    starts: String,
    expires: String,
    members: Vec<String>,
    tables: Vec<String>,
    /// `col.{table}` values.
    columns: Vec<(String, String)>,
    /// `filter.{table}.{i}.{part}` values.
    filters: Vec<(String, String)>,
}

impl Shown {
    fn from_fields(fields: &Fields) -> Self {
        let starting = |prefix: &str| {
            fields
                .0
                .iter()
                .filter(|(n, _)| n.starts_with(prefix))
                .cloned()
                .collect()
        };
        Self {
            mode: fields.get("mode").to_owned(),
            starts: fields.get("starts").to_owned(),
            expires: fields.get("expires").to_owned(),
            members: fields.all("permit_member").map(str::to_owned).collect(),
            tables: fields.all("table").map(str::to_owned).collect(),
            columns: starting("col."),
            filters: starting("filter."),
        }
    }

    fn from_permit(permit: &Permit) -> Self {
        let grant = &permit.grant;
        let mut shown = Self {
            mode: grant.mode.as_str().to_owned(),
            starts: day(grant.starts_at),
            expires: day(grant.expires_at),
            members: grant.members.clone(),
            tables: grant.tables.iter().map(|t| t.name.clone()).collect(),
            ..Self::default()
        };
        for table in &grant.tables {
            for column in &table.columns {
                shown
                    .columns
                    .push((format!("col.{}", table.name), column.clone()));
            }
            for (i, filter) in table.filters.iter().enumerate() {
                let key = |part: &str| format!("filter.{}.{i}.{part}", table.name);
                let (op, values) = match filter {
                    Filter::Between { low, high, .. } => ("between", vec![low, high]),
                    Filter::In { values, .. } => ("in", values.iter().collect()),
                    Filter::Equals { value, .. } => ("equals", vec![value]),
                };
                let values: Vec<String> = values
                    .into_iter()
                    .map(|v| quoted(&scalar_text(v)))
                    .collect();
                shown
                    .filters
                    .push((key("column"), filter.column().to_owned()));
                shown.filters.push((key("op"), op.to_owned()));
                shown.filters.push((key("values"), values.join(", ")));
            }
        }
        shown
    }

    fn from_application(project: &Project, dataset: &DatasetEntry) -> Self {
        let today = OffsetDateTime::now_utc();
        let end = today + time::Duration::days(i64::from(project.application.duration_days));
        let mut shown = Self {
            mode: Mode::AggregateOnly.as_str().to_owned(),
            starts: today.date().to_string(),
            expires: end.date().to_string(),
            members: project.members.clone(),
            ..Self::default()
        };
        for asked in &project.application.tables {
            shown.tables.push(asked.name.clone());
            let all = dataset.tables.iter().find(|t| t.name == asked.name);
            // Every column asked for (all when none is named), but identifiers: the
            // steward ticks those deliberately.
            let identifier = |name: &str| {
                all.and_then(|t| t.columns.iter().find(|c| c.name == name))
                    .is_some_and(|c| c.identifier)
            };
            let columns: Vec<String> = if asked.columns.is_empty() {
                all.map(|t| t.columns.iter().map(|c| c.name.clone()).collect())
                    .unwrap_or_default()
            } else {
                asked.columns.clone()
            };
            let columns: Vec<String> = columns.into_iter().filter(|c| !identifier(c)).collect();
            for column in columns {
                shown.columns.push((format!("col.{}", asked.name), column));
            }
        }
        shown
    }

    fn has_column(&self, table: &str, column: &str) -> bool {
        let key = format!("col.{table}");
        self.columns.iter().any(|(k, v)| *k == key && v == column)
    }

    /// The filter rows to show for `table`: its filters and empty ones.
    fn filter_rows(&self, table: &str) -> usize {
        let prefix = format!("filter.{table}.");
        let used = self
            .filters
            .iter()
            .filter(|(k, v)| k.starts_with(&prefix) && k.ends_with(".column") && !v.is_empty())
            .filter_map(|(k, _)| k[prefix.len()..].split('.').next()?.parse::<usize>().ok())
            .map(|i| i + 1)
            .max()
            .unwrap_or(0);
        used + EMPTY_FILTERS
    }

    fn filter(&self, table: &str, i: usize, part: &str) -> &str {
        let key = format!("filter.{table}.{i}.{part}");
        self.filters
            .iter()
            .find(|(k, _)| *k == key)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// A value as typed in a list: in double quotes when it holds a comma or a quote, is
/// empty, or starts or ends with a space (kept exactly).
fn quoted(text: &str) -> String {
    if text.is_empty() || text.contains([',', '"']) || text.trim() != text {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// The values of a list typed as `a, "b, c", d`: unquoted values trimmed (empty ones
/// dropped), quoted ones kept exactly (a quote inside doubled).
fn values_typed(text: &str) -> Vec<String> {
    let mut values = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else { break };
        if first == '"' {
            chars.next();
            let mut value = String::new();
            while let Some(c) = chars.next() {
                match c {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        value.push('"');
                    }
                    '"' => break,
                    c => value.push(c),
                }
            }
            values.push(value);
            // Up to the next comma.
            for c in chars.by_ref() {
                if c == ',' {
                    break;
                }
            }
        } else {
            let mut value = String::new();
            for c in chars.by_ref() {
                if c == ',' {
                    break;
                }
                value.push(c);
            }
            let value = value.trim();
            if !value.is_empty() {
                values.push(value.to_owned());
            }
        }
    }
    values
}

fn scalar_text(value: &Scalar) -> String {
    match value {
        Scalar::Number(n) => n.to_string(),
        Scalar::Text(t) => t.clone(),
    }
}

/// The editor, filled with `typed` (a refused grant), else the current permit, else
/// what the application asked for.
pub(super) fn form(
    lang: Lang,
    token: &str,
    project: &Project,
    current: Option<&Permit>,
    dataset: &DatasetEntry,
    typed: Option<&Fields>,
) -> Markup {
    let shown = match (typed, current) {
        (Some(fields), _) if !fields.get("mode").is_empty() => Shown::from_fields(fields),
        (_, Some(permit)) if permit.revoked_at.is_none() => Shown::from_permit(permit),
        _ => Shown::from_application(project, dataset),
    };
    let radio = |value: &str, text: &str| {
        let id = format!("mode-{value}");
        html! {
            div.check {
                input id=(id) type="radio" name="mode" value=(value) checked[shown.mode == value];
                label for=(id) { (text) }
            }
        }
    };
    html! {
        details.editor open[typed.is_some() || current.is_none()] {
            summary { (lang.pick("Accorder une autorisation (nouvelle version)", "Grant a permit (a new version)")) }
            form.permit method="post" action={ "/projects/" (project.id) "/permit" } {
                (csrf(token))
                fieldset {
                    legend { (lang.pick("Mode", "Mode")) }
                    (radio("aggregate_only", lang.pick("Agrégats seulement, sous contrôle de divulgation", "Aggregates only, under disclosure control")))
                    (radio("row_level", lang.pick("Lignes, consultées dans l'espace de travail seulement", "Rows, seen in the workspace only")))
                }
                div.dates {
                    div.field {
                        label for="starts" { (lang.pick("Valable à partir du", "Valid from")) }
                        input #starts type="date" name="starts" value=(shown.starts) required;
                    }
                    div.field {
                        label for="expires" { (lang.pick("Jusqu'au (inclus)", "Until (included)")) }
                        input #expires type="date" name="expires" value=(shown.expires) required;
                    }
                }
                fieldset {
                    legend { (lang.pick("Membres autorisés", "Members allowed")) }
                    @for member in &project.members {
                        @let id = format!("pm-{member}");
                        div.check {
                            input id=(id) type="checkbox" name="permit_member" value=(member) checked[shown.members.contains(member)];
                            label for=(id) { (member) }
                        }
                    }
                }
                @for table in &dataset.tables {
                    @let tid = format!("pt-{}", table.name);
                    fieldset.permit-table {
                        legend {
                            input id=(tid) type="checkbox" name="table" value=(table.name) checked[shown.tables.contains(&table.name)];
                            label for=(tid) { code { (table.name) } }
                        }
                        div.columns {
                            @for column in &table.columns {
                                @let cid = format!("pc-{}-{}", table.name, column.name);
                                div.check {
                                    input id=(cid) type="checkbox" name={ "col." (table.name) } value=(column.name) checked[shown.has_column(&table.name, &column.name)];
                                    label for=(cid) {
                                        code { (column.name) }
                                        @if column.identifier { " " span.badge { (lang.pick("identifiant", "identifier")) } }
                                    }
                                }
                            }
                        }
                        @for i in 0..shown.filter_rows(&table.name) {
                            @let key = |part: &str| format!("filter.{}.{i}.{part}", table.name);
                            @let fid = format!("pf-{}-{i}", table.name);
                            div.filter {
                                label for={ (fid) "-column" } { (lang.pick("Filtre : colonne", "Filter: column")) }
                                select id={ (fid) "-column" } name=(key("column")) {
                                    option value="" { "—" }
                                    @for column in &table.columns {
                                        option value=(column.name) selected[shown.filter(&table.name, i, "column") == column.name] { (column.name) }
                                    }
                                }
                                label for={ (fid) "-op" } { (lang.pick("opérateur", "operator")) }
                                select id={ (fid) "-op" } name=(key("op")) {
                                    @for (op, text) in [("between", lang.pick("entre (bas, haut)", "between (low, high)")), ("in", lang.pick("parmi (v1, v2, …)", "one of (v1, v2, …)")), ("equals", lang.pick("égal à", "equals"))] {
                                        option value=(op) selected[shown.filter(&table.name, i, "op") == op] { (text) }
                                    }
                                }
                                label for={ (fid) "-values" } { (lang.pick("valeurs", "values")) }
                                input id={ (fid) "-values" } type="text" name=(key("values")) value=(shown.filter(&table.name, i, "values"));
                            }
                        }
                    }
                }
                p.hint { (lang.pick(
                    "Valeurs séparées par des virgules (entre guillemets si elles en contiennent) ; dates en AAAA-MM-JJ. Une ligne n'est visible que si tous les filtres de sa table la retiennent.",
                    "Values separated by commas (in double quotes when they hold one); dates as YYYY-MM-DD. A row is visible only if every filter of its table keeps it.",
                )) }
                button type="submit" { (lang.pick("Accorder l'autorisation", "Grant the permit")) }
            }
        }
    }
}

/// What a permit grants, in a few lines.
pub(super) fn summary(lang: Lang, permit: &Permit) -> Markup {
    let grant = &permit.grant;
    let mode = match grant.mode {
        Mode::AggregateOnly => lang.pick("agrégats seulement", "aggregates only"),
        Mode::RowLevel => lang.pick(
            "lignes (dans l'espace de travail)",
            "rows (in the workspace)",
        ),
    };
    html! {
        dl.permit {
            dt { (lang.pick("Version", "Version")) } dd { (permit.version) " · " (lang.pick("accordée par", "granted by")) " " (permit.granted_by) }
            @if let Some(by) = &permit.revoked_by {
                dt { (lang.pick("Révoquée", "Revoked")) } dd { (by) }
            }
            dt { (lang.pick("Mode", "Mode")) } dd { (mode) }
            dt { (lang.pick("Période", "Period")) } dd { (day(grant.starts_at)) " – " (day(grant.expires_at)) }
            dt { (lang.pick("Membres", "Members")) } dd { (grant.members.join(", ")) }
            @for table in &grant.tables {
                dt { code { (table.name) } }
                dd {
                    (table.columns.join(", "))
                    @for filter in &table.filters {
                        br; span.filter { (describe(filter)) }
                    }
                }
            }
        }
    }
}

fn describe(filter: &Filter) -> String {
    match filter {
        Filter::Between { column, low, high } => {
            format!("{column} ∈ [{}, {}]", scalar_text(low), scalar_text(high))
        }
        Filter::In { column, values } => format!(
            "{column} ∈ {{{}}}",
            values
                .iter()
                .map(scalar_text)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Filter::Equals { column, value } => format!("{column} = {}", scalar_text(value)),
    }
}

/// The grant the form asks for, or what to fix.
pub(super) fn grant(lang: Lang, fields: &Fields, dataset: &DatasetEntry) -> Result<Grant, String> {
    let mode = match fields.get("mode") {
        "aggregate_only" => Mode::AggregateOnly,
        "row_level" => Mode::RowLevel,
        _ => {
            return Err(lang
                .pick("Mode : choisissez-en un.", "Mode: choose one.")
                .to_owned());
        }
    };
    let date = |name: &str, text: &str| {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        Date::parse(fields.get(name).trim(), &format)
            .map(|d| d.midnight().assume_utc().unix_timestamp())
            .map_err(|_| {
                format!(
                    "{text} : {}",
                    lang.pick("une date AAAA-MM-JJ", "a date YYYY-MM-DD")
                )
            })
    };
    let starts_at = date("starts", lang.pick("Début", "Start"))?;
    let expires_at = date("expires", lang.pick("Fin", "End"))? + 86_399;
    let mut tables = Vec::new();
    for name in fields.all("table") {
        let Some(table) = dataset.tables.iter().find(|t| t.name == name) else {
            return Err(format!(
                "{}: {name}",
                lang.pick("table inconnue", "unknown table")
            ));
        };
        let columns: Vec<String> = fields
            .all(&format!("col.{name}"))
            .map(str::to_owned)
            .collect();
        let mut filters = Vec::new();
        // Every filter row sent, whatever its number.
        let prefix = format!("filter.{name}.");
        let rows: std::collections::BTreeSet<usize> = fields
            .0
            .iter()
            .filter_map(|(k, _)| k.strip_prefix(&prefix)?.split('.').next()?.parse().ok())
            .collect();
        for i in rows {
            let part = |p: &str| {
                fields
                    .get(&format!("filter.{name}.{i}.{p}"))
                    .trim()
                    .to_owned()
            };
            let column = part("column");
            if column.is_empty() {
                continue;
            }
            let numeric = table
                .columns
                .iter()
                .find(|c| c.name == column)
                .is_some_and(|c| matches!(c.r#type.as_str(), "integer" | "number" | "year"));
            let values: Vec<Scalar> = values_typed(&part("values"))
                .iter()
                .map(|v| typed_value(v, numeric))
                .collect::<Result<_, _>>()
                // The value itself is not repeated (the field is in the form, kept).
                .map_err(|_| {
                    format!(
                        "{name}.{column}: {}",
                        lang.pick(
                            "les valeurs d'une colonne numérique sont des nombres",
                            "a numeric column's values are numbers"
                        )
                    )
                })?;
            let place = format!("{name}.{column}");
            let wrong = |n: &str| {
                format!(
                    "{place}: {n} {}",
                    lang.pick("valeur(s) attendue(s)", "value(s) expected")
                )
            };
            let filter = match (part("op").as_str(), values.len()) {
                ("between", 2) => {
                    let mut values = values.into_iter();
                    let (Some(low), Some(high)) = (values.next(), values.next()) else {
                        return Err(wrong("2"));
                    };
                    Filter::Between { column, low, high }
                }
                ("between", _) => return Err(wrong("2")),
                ("equals", 1) => Filter::Equals {
                    column,
                    value: values.into_iter().next().ok_or_else(|| wrong("1"))?,
                },
                ("equals", _) => return Err(wrong("1")),
                ("in", n) if n > 0 => Filter::In { column, values },
                _ => return Err(wrong("1+")),
            };
            filters.push(filter);
        }
        tables.push(bastide_access::PermitTable {
            name: name.to_owned(),
            columns,
            filters,
        });
    }
    Ok(Grant {
        dataset: dataset.name.clone(),
        tables,
        members: fields.all("permit_member").map(str::to_owned).collect(),
        starts_at,
        expires_at,
        mode,
    })
}

/// A value as its column's type wants it; none when a number was expected and it is
/// not one.
fn typed_value(text: &str, numeric: bool) -> Result<Scalar, ()> {
    if numeric {
        text.parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .map(Scalar::Number)
            .ok_or(())
    } else {
        Ok(Scalar::Text(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_values_keep_their_commas_and_quotes_both_ways() {
        for values in [
            vec!["a", "b"],
            vec!["Paris, 75", "Lyon"],
            vec!["say \"hi\"", "x,y,\"z\""],
            vec!["", "x", " 01 ", "a\tb"],
        ] {
            let typed: Vec<String> = values.iter().map(|v| quoted(v)).collect();
            assert_eq!(values_typed(&typed.join(", ")), values, "{typed:?}");
        }
        assert_eq!(values_typed(" 1900 ,  2030 ,"), vec!["1900", "2030"]);
    }
}
