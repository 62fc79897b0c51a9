//! Reading one value by its column's rules. A refusal says which rule and what was
//! expected, never what the value was: it may be an identifier or a health value.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveDateTime};

use crate::schema::{ColumnKind, ColumnSchema};

/// A value read from text (text values borrow it where they can).
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// No value.
    Null,
    /// Text (strings, partial dates, year-months).
    Text(Cow<'a, str>),
    /// A whole number.
    Integer(i64),
    /// A decimal number.
    Number(f64),
    /// A truth value.
    Boolean(bool),
    /// Days since 1970-01-01.
    Date(i32),
    /// A year.
    Year(i32),
    /// Seconds since 1970-01-01T00:00:00.
    DateTime(i64),
}

/// Which rule a value broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// Not of the column's type or format.
    Type,
    /// Missing where required.
    Required,
    /// Too short.
    MinLength,
    /// Too long.
    MaxLength,
    /// Below the minimum.
    Minimum,
    /// Above the maximum.
    Maximum,
    /// Too many decimals.
    Decimals,
    /// Not one of the allowed values.
    Enum,
    /// Does not match the pattern.
    Pattern,
    /// Repeats a primary key or unique value.
    Unique,
    /// Not in the column's nomenclature.
    Nomenclature,
}

impl Rule {
    /// Its name, as reports and the quarantine table write it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Type => "type",
            Self::Required => "required",
            Self::MinLength => "min_length",
            Self::MaxLength => "max_length",
            Self::Minimum => "minimum",
            Self::Maximum => "maximum",
            Self::Decimals => "decimals",
            Self::Enum => "enum",
            Self::Pattern => "pattern",
            Self::Unique => "unique",
            Self::Nomenclature => "nomenclature",
        }
    }
}

/// A refused value: the rule, and what would have been accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueError {
    /// The rule broken.
    pub rule: Rule,
    /// What the column expects.
    pub expected: String,
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.expected)
    }
}

const DAYS_TO_EPOCH: i32 = 719_163;

impl ColumnSchema {
    /// Reads `text` by this column's type, format and constraints.
    pub fn read<'t>(
        &self,
        text: &'t str,
        missing_values: &[String],
    ) -> Result<Value<'t>, ValueError> {
        let missing = match missing_values {
            // The common case (the empty string), without a comparison per value.
            [only] if only.is_empty() => text.is_empty(),
            _ => missing_values.iter().any(|m| m == text),
        };
        if missing {
            return if self.required {
                Err(fail(Rule::Required, "a value (the column is required)"))
            } else {
                Ok(Value::Null)
            };
        }
        let value = self.convert(text)?;
        self.check(text, &value)?;
        Ok(value)
    }

    fn convert<'t>(&self, text: &'t str) -> Result<Value<'t>, ValueError> {
        match &self.kind {
            ColumnKind::String => Ok(Value::Text(Cow::Borrowed(text))),
            ColumnKind::Integer => trimmed(text)
                .parse()
                .map(Value::Integer)
                .map_err(|_| fail(Rule::Type, "an integer, such as 42")),
            ColumnKind::Number => decimal(text)
                .or_else(|| trimmed(text).parse::<f64>().ok())
                .filter(|n| n.is_finite())
                .map(Value::Number)
                .ok_or_else(|| {
                    fail(
                        Rule::Type,
                        "a number with `.` as decimal separator, such as 12.5",
                    )
                }),
            ColumnKind::Boolean => match text.trim() {
                "true" | "True" | "TRUE" | "1" => Ok(Value::Boolean(true)),
                "false" | "False" | "FALSE" | "0" => Ok(Value::Boolean(false)),
                _ => Err(fail(Rule::Type, "true or false (or 1 or 0)")),
            },
            ColumnKind::Date(format) => {
                let parsed = match format.as_deref() {
                    None => iso_date(text).ok_or(()),
                    Some("%d%m%Y") => day_month_year(text).ok_or(()),
                    Some(format) => NaiveDate::parse_from_str(text, format)
                        .map(days)
                        .map_err(drop),
                };
                parsed.map(Value::Date).map_err(|_| {
                    fail(
                        Rule::Type,
                        &format!("a date as {}", format.as_deref().unwrap_or("YYYY-MM-DD")),
                    )
                })
            }
            ColumnKind::PartialDate(format, pattern) => {
                if pattern.is_match(text) {
                    Ok(Value::Text(Cow::Borrowed(text)))
                } else {
                    Err(fail(Rule::Type, &format!("a date part as {format}")))
                }
            }
            ColumnKind::Year => trimmed(text)
                .parse::<i32>()
                .ok()
                .filter(|y| (0..=9999).contains(y) && trimmed(text).len() == 4)
                .map(Value::Year)
                .ok_or_else(|| fail(Rule::Type, "a year as YYYY")),
            ColumnKind::YearMonth => year_month(text)
                .map(|t| Value::Text(Cow::Owned(t)))
                .ok_or_else(|| fail(Rule::Type, "a year and month as YYYY-MM")),
            ColumnKind::DateTime(format) => {
                let parsed = match format {
                    None => DateTime::parse_from_rfc3339(text)
                        .map(|d| d.naive_utc())
                        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")),
                    Some(format) => NaiveDateTime::parse_from_str(text, format),
                };
                parsed
                    .map(|d| Value::DateTime(d.and_utc().timestamp()))
                    .map_err(|_| {
                        fail(
                            Rule::Type,
                            &format!(
                                "a date and time as {}",
                                format.as_deref().unwrap_or("YYYY-MM-DDTHH:MM:SSZ")
                            ),
                        )
                    })
            }
        }
    }

    fn check(&self, text: &str, value: &Value) -> Result<(), ValueError> {
        if self.min_length.is_some() || self.max_length.is_some() {
            let length = if text.is_ascii() {
                text.len()
            } else {
                text.chars().count()
            };
            if let Some(min) = self.min_length
                && length < min
            {
                return Err(fail(Rule::MinLength, &format!("at least {min} characters")));
            }
            if let Some(max) = self.max_length
                && length > max
            {
                return Err(fail(Rule::MaxLength, &format!("at most {max} characters")));
            }
        }
        let number = match value {
            Value::Integer(n) => Some(*n as f64),
            Value::Number(n) => Some(*n),
            _ => None,
        };
        if let (Some(n), Some(min)) = (number, self.minimum)
            && n < min
        {
            return Err(fail(Rule::Minimum, &format!("at least {min}")));
        }
        if let (Some(n), Some(max)) = (number, self.maximum)
            && n > max
        {
            return Err(fail(Rule::Maximum, &format!("at most {max}")));
        }
        if let (Value::Number(_), Some(decimals)) = (value, self.decimals)
            && fraction_digits(text) > decimals
        {
            return Err(fail(
                Rule::Decimals,
                &format!("at most {decimals} digits after the decimal point"),
            ));
        }
        if let Some(allowed) = &self.allowed
            && !allowed.iter().any(|a| a == text)
        {
            return Err(fail(
                Rule::Enum,
                &format!("one of the {} values the schema lists", allowed.len()),
            ));
        }
        if let Some(pattern) = &self.pattern
            && !pattern.is_match(text)
        {
            return Err(fail(Rule::Pattern, "text matching the schema's pattern"));
        }
        if let Some((nomenclature, codes)) = &self.codes
            && !codes.contains(text)
            && !codes.contains(&crate::schema::normalise_code(text))
        {
            return Err(fail(
                Rule::Nomenclature,
                &format!("a code of nomenclature {nomenclature}"),
            ));
        }
        Ok(())
    }
}

/// Significant digits after the decimal point (`6203.0` has none; exponent forms are
/// left to the range rules).
fn fraction_digits(text: &str) -> usize {
    let text = trimmed(text).as_bytes();
    if text.iter().any(|b| matches!(b, b'e' | b'E')) {
        return 0;
    }
    match text.iter().position(|&b| b == b'.') {
        Some(dot) => {
            let fraction = &text[dot + 1..];
            fraction.len() - fraction.iter().rev().take_while(|&&b| b == b'0').count()
        }
        None => 0,
    }
}

/// `text` without surrounding white space; the common case (none) without the cost of
/// a Unicode-aware trim.
fn trimmed(text: &str) -> &str {
    match (text.as_bytes().first(), text.as_bytes().last()) {
        (Some(a), Some(z)) if a.is_ascii_graphic() && z.is_ascii_graphic() => text,
        _ => text.trim(),
    }
}

/// A plain decimal (`-12.50`: a sign, at most 15 digits, a point) read exactly as
/// `str::parse` would, without its general machinery: the digits as a whole number
/// and a power of ten are both exact in a double, and one division rounds correctly.
/// None for anything else (white space, exponents, longer numbers), which the general
/// parser reads.
fn decimal(text: &str) -> Option<f64> {
    const POWERS: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    let bytes = text.as_bytes();
    let (negative, digits) = match bytes.first()? {
        b'-' => (true, &bytes[1..]),
        b'+' => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    let (mut whole, mut count, mut point, mut after) = (0u64, 0usize, false, 0usize);
    for &b in digits {
        match b {
            b'0'..=b'9' if count < 15 => {
                whole = whole * 10 + u64::from(b - b'0');
                count += 1;
                after += usize::from(point);
            }
            // More digits than a double holds exactly: the general parser's.
            b'0'..=b'9' => return None,
            b'.' if !point => point = true,
            _ => return None,
        }
    }
    if count == 0 {
        return None;
    }
    let value = whole as f64 / POWERS[after];
    Some(if negative { -value } else { value })
}

fn fail(rule: Rule, expected: &str) -> ValueError {
    ValueError {
        rule,
        expected: expected.to_owned(),
    }
}

/// `YYYY-MM-DD` as days since 1970-01-01, without the cost of a general format.
fn iso_date(text: &str) -> Option<i32> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    days_of(digits(&b[..4])? as i32, digits(&b[5..7])?, digits(&b[8..])?)
}

/// `DDMMYYYY` (the PMSI's dates) as days since 1970-01-01.
fn day_month_year(text: &str) -> Option<i32> {
    let b = text.as_bytes();
    if b.len() != 8 {
        return None;
    }
    days_of(digits(&b[4..])? as i32, digits(&b[2..4])?, digits(&b[..2])?)
}

fn digits(bytes: &[u8]) -> Option<u32> {
    bytes.iter().try_fold(0u32, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
    })
}

/// Days since 1970-01-01 of a day of the proleptic Gregorian calendar; none when there
/// is no such day (month 13, 31 April, 29 February of a common year).
fn days_of(year: i32, month: u32, day: u32) -> Option<i32> {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let length = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if day == 0 || day > length {
        return None;
    }
    // Counted from 1 March, so that the leap day ends a year (H. Hinnant's
    // `days_from_civil`).
    let (month, day) = (month as i32, day as i32);
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let of_era = year - era * 400;
    let of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let of_cycle = of_era * 365 + of_era / 4 - of_era / 100 + of_year;
    Some(era * 146_097 + of_cycle - 719_468)
}

fn days(date: NaiveDate) -> i32 {
    chrono::Datelike::num_days_from_ce(&date) - DAYS_TO_EPOCH
}

fn year_month(text: &str) -> Option<String> {
    let digits: String = text.chars().filter(|c| *c != '-').collect();
    let well_formed = (text.len() == 7 && text.as_bytes()[4] == b'-') || text.len() == 6;
    if !well_formed || digits.len() != 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let month: u32 = digits[4..].parse().ok()?;
    (1..=12)
        .contains(&month)
        .then(|| format!("{}-{}", &digits[..4], &digits[4..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_counted_as_the_calendar_counts_them() {
        for year in [0, 1, 1899, 1900, 1970, 1999, 2000, 2023, 2024, 2100, 9999] {
            for month in 0..=13 {
                for day in 0..=32 {
                    let expected = NaiveDate::from_ymd_opt(year, month, day).map(days);
                    assert_eq!(days_of(year, month, day), expected, "{year}-{month}-{day}");
                }
            }
        }
    }

    #[test]
    fn plain_decimals_read_exactly_as_the_general_parser_reads_them() {
        for text in [
            "0",
            "-0",
            "12.5",
            "-12.50",
            "+3",
            "0.1",
            "0.3",
            "123456789012.345",
            ".5",
            "1.",
            "999999999999999",
            "0.00000000000001",
            "2.675",
            "900719925474.993",
        ] {
            assert_eq!(decimal(text), text.parse::<f64>().ok(), "{text}");
        }
        for text in [
            "",
            "-",
            ".",
            "1e5",
            " 1",
            "1 ",
            "1.2.3",
            "1234567890123456",
            "inf",
            "1,5",
            "0.000000000000001",
            "3.14159265358979323846",
            "123456789012345678901234567890",
        ] {
            assert_eq!(decimal(text), None, "{text}");
        }
        assert_eq!(fraction_digits("6203.0"), 0);
        assert_eq!(fraction_digits(" 12.340 "), 2);
        assert_eq!(fraction_digits("1e-9"), 0);
    }
    use crate::TableSchema;

    fn column(field: &str) -> ColumnSchema {
        let json = format!(r#"{{"fields":[{field}]}}"#);
        TableSchema::parse("t.json", json.as_bytes())
            .unwrap()
            .columns
            .remove(0)
    }

    fn read<'t>(field: &str, text: &'t str) -> Result<Value<'t>, ValueError> {
        column(field).read(text, &[String::new()])
    }

    #[test]
    fn each_type_reads_its_values() {
        assert_eq!(
            read(r#"{"name":"a","type":"integer"}"#, "007"),
            Ok(Value::Integer(7))
        );
        assert_eq!(
            read(r#"{"name":"a","type":"number"}"#, "12.50"),
            Ok(Value::Number(12.5))
        );
        assert_eq!(
            read(r#"{"name":"a","type":"boolean"}"#, "1"),
            Ok(Value::Boolean(true))
        );
        assert_eq!(
            read(r#"{"name":"a","type":"date"}"#, "1970-01-02"),
            Ok(Value::Date(1))
        );
        assert_eq!(
            read(
                r#"{"name":"a","type":"date","format":"%d%m%Y"}"#,
                "02011970"
            ),
            Ok(Value::Date(1))
        );
        assert_eq!(
            read(r#"{"name":"a","type":"date","format":"%m"}"#, "05"),
            Ok(Value::Text("05".into()))
        );
        assert_eq!(
            read(r#"{"name":"a","type":"year"}"#, "2024"),
            Ok(Value::Year(2024))
        );
        assert_eq!(
            read(r#"{"name":"a","type":"yearmonth"}"#, "202003"),
            Ok(Value::Text("2020-03".into()))
        );
        assert_eq!(
            read(r#"{"name":"a","type":"yearmonth"}"#, "2020-03"),
            Ok(Value::Text("2020-03".into()))
        );
        assert_eq!(
            read(
                r#"{"name":"a","type":"datetime","format":"%d%b%Y:%H:%M:%S"}"#,
                "02JAN1970:00:00:10"
            ),
            Ok(Value::DateTime(86_410))
        );
        assert_eq!(
            read(r#"{"name":"a","type":"datetime"}"#, "1970-01-01T00:01:00Z"),
            Ok(Value::DateTime(60))
        );
        assert_eq!(read(r#"{"name":"a","type":"string"}"#, ""), Ok(Value::Null));
    }

    #[test]
    fn bad_values_name_the_rule_and_what_was_expected_but_never_the_value() {
        let cases = [
            (r#"{"name":"a","type":"integer"}"#, "4x2", Rule::Type),
            (r#"{"name":"a","type":"date"}"#, "2024-02-31", Rule::Type),
            (
                r#"{"name":"a","type":"date","format":"%m"}"#,
                "13",
                Rule::Type,
            ),
            (r#"{"name":"a","type":"yearmonth"}"#, "2020-13", Rule::Type),
            (
                r#"{"name":"a","type":"string","constraints":{"required":true}}"#,
                "",
                Rule::Required,
            ),
            (
                r#"{"name":"a","type":"string","constraints":{"minLength":17}}"#,
                "1840775",
                Rule::MinLength,
            ),
            (
                r#"{"name":"a","type":"string","constraints":{"maxLength":2}}"#,
                "ABC",
                Rule::MaxLength,
            ),
            (
                r#"{"name":"a","type":"integer","constraints":{"minimum":1}}"#,
                "0",
                Rule::Minimum,
            ),
            (
                r#"{"name":"a","type":"integer","constraints":{"maximum":9}}"#,
                "10",
                Rule::Maximum,
            ),
            (
                r#"{"name":"a","type":"number","constraints":{"decimals":2}}"#,
                "1.234",
                Rule::Decimals,
            ),
            (
                r#"{"name":"a","type":"string","constraints":{"enum":["1","2"]}}"#,
                "3",
                Rule::Enum,
            ),
            (
                r#"{"name":"a","type":"string","constraints":{"pattern":"[A-Z][0-9]{2}"}}"#,
                "E1",
                Rule::Pattern,
            ),
        ];
        for (field, text, rule) in cases {
            let err = read(field, text).unwrap_err();
            assert_eq!(err.rule, rule, "{field} {text}");
            assert!(
                !err.to_string().contains(text) || text.len() < 2,
                "{err} echoes {text}"
            );
        }
    }

    #[test]
    fn a_value_outside_a_loaded_nomenclature_is_refused_naming_it() {
        let mut sex = column(r#"{"name":"a","type":"integer"}"#);
        let codes: std::collections::HashSet<String> = ["1", "2"].map(String::from).into();
        sex.codes = Some(("IR_SEX_V".into(), std::sync::Arc::new(codes)));
        assert_eq!(
            sex.read("01", &[]),
            Ok(Value::Integer(1)),
            "leading zeros do not matter"
        );
        let err = sex.read("9", &[]).unwrap_err();
        assert_eq!(err.rule, Rule::Nomenclature);
        assert_eq!(err.expected, "a code of nomenclature IR_SEX_V");
    }

    #[test]
    fn a_schema_with_an_unknown_type_names_the_field() {
        let err = TableSchema::parse("t.json", br#"{"fields":[{"name":"x","type":"geopoint"}]}"#)
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("field `x`: type `geopoint` is not supported"),
            "{err}"
        );
    }

    #[test]
    fn malformed_json_is_located() {
        let err = TableSchema::parse("t.json", b"{\"fields\": [\n oops]}").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }

    #[test]
    fn a_primary_key_on_a_missing_field_is_refused() {
        let err = TableSchema::parse("t.json", br#"{"fields":[{"name":"a"}],"primaryKey":"b"}"#)
            .unwrap_err();
        assert!(err.to_string().contains("primaryKey names `b`"), "{err}");
    }
}
