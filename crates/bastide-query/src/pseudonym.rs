//! Project pseudonyms: inside a workspace, identifier columns show `HMAC(project key,
//! hub pseudonym)` instead of the hub pseudonym, so tables still join within the
//! project but two projects' results cannot be joined with each other (nor with the
//! hub's). The project key is a data key of the project's scope: shredding the
//! project's keys at the end of its retention makes its pseudonyms unrecomputable.
//!
//! Inside the plan, identifier columns keep the hub's pseudonyms for as long as only
//! equality, grouping and counting see them ([`crate::pseudonymise`]): the views mark
//! them with `hub_pseudonym`, an identity function, and `project_pseudonym` is applied
//! where a value could show.
//!
//! The functions here live only inside permit views and the rewritten plans, which
//! are built in contexts the researcher never gets: none can be called by name from a
//! query.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use bastide_crypto::{KeyedPseudonym, PSEUDONYM_HEX};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result as DfResult, ScalarValue, exec_err};
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

/// The name the pseudonymising function shows in plans.
pub const PROJECT_PSEUDONYM: &str = "project_pseudonym";

/// The name of the views' marker of columns holding hub pseudonyms.
pub const HUB_PSEUDONYM: &str = "hub_pseudonym";

/// `project_pseudonym(text)`: the project's pseudonym of a hub pseudonym, as text of
/// the argument's type.
#[derive(Clone)]
pub struct ProjectPseudonym {
    project: String,
    key: KeyedPseudonym,
    signature: Signature,
}

impl ProjectPseudonym {
    /// The function for `project`, keyed with its secret.
    pub fn new(project: &str, secret: &[u8]) -> Self {
        Self {
            project: project.to_owned(),
            key: KeyedPseudonym::new(secret),
            signature: Signature::string(1, Volatility::Immutable),
        }
    }

    /// As a DataFusion function.
    pub fn udf(self) -> Arc<ScalarUDF> {
        Arc::new(ScalarUDF::new_from_impl(self))
    }

    /// The project pseudonym of one hub pseudonym.
    pub fn pseudonym(&self, hub: &str) -> String {
        self.key.of(hub)
    }
}

impl std::fmt::Debug for ProjectPseudonym {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProjectPseudonym")
            .field("project", &self.project)
            .finish_non_exhaustive()
    }
}

impl PartialEq for ProjectPseudonym {
    fn eq(&self, other: &Self) -> bool {
        self.project == other.project
    }
}

impl Eq for ProjectPseudonym {}

impl Hash for ProjectPseudonym {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.project.hash(state);
    }
}

impl ScalarUDFImpl for ProjectPseudonym {
    fn name(&self) -> &str {
        PROJECT_PSEUDONYM
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> DfResult<DataType> {
        Ok(text_type(args))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let rows = args.number_rows;
        let returned = args.return_field.data_type().clone();
        let mapped = map_strings(&args, |values| {
            let mut mapped = StringBuilder::with_capacity(rows, rows * PSEUDONYM_HEX);
            let mut buffer = [0u8; PSEUDONYM_HEX];
            for value in values {
                match value {
                    Some(hub) => mapped.append_value(self.key.write(hub, &mut buffer)),
                    None => mapped.append_null(),
                }
            }
            Arc::new(mapped.finish())
        })?;
        // Same type in, same type out: the rewrite swaps columns in place.
        Ok(match mapped {
            ColumnarValue::Array(a) if a.data_type() != &returned => {
                ColumnarValue::Array(cast(&a, &returned)?)
            }
            ColumnarValue::Scalar(s) if s.data_type() != returned => {
                ColumnarValue::Scalar(s.cast_to(&returned)?)
            }
            same => same,
        })
    }
}

/// `hub_pseudonym(text)`: its argument, unchanged. The views wrap their identifier
/// columns in it so that [`crate::pseudonymise`] knows where hub pseudonyms enter a
/// plan. Once that rewrite has run, the marker has done its work: DataFusion's
/// optimiser replaces it by its argument, so that plans keep plain columns (join
/// keys, filters and projections the optimiser can see through).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HubPseudonym {
    signature: Signature,
}

impl HubPseudonym {
    /// The marker as a DataFusion function.
    pub fn udf() -> Arc<ScalarUDF> {
        Arc::new(ScalarUDF::new_from_impl(Self {
            signature: Signature::string(1, Volatility::Immutable),
        }))
    }
}

impl ScalarUDFImpl for HubPseudonym {
    fn name(&self) -> &str {
        HUB_PSEUDONYM
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> DfResult<DataType> {
        Ok(text_type(args))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let [arg] = args.args.as_slice() else {
            return exec_err!("one argument expected");
        };
        Ok(arg.clone())
    }

    fn simplify(&self, mut args: Vec<Expr>, _: &SimplifyContext) -> DfResult<ExprSimplifyResult> {
        Ok(match args.pop() {
            Some(arg) if args.is_empty() => ExprSimplifyResult::Simplified(arg),
            arg => ExprSimplifyResult::Original(args.into_iter().chain(arg).collect()),
        })
    }
}

/// The text type a function of `args` returns: the argument's own.
fn text_type(args: &[DataType]) -> DataType {
    match args.first() {
        Some(t @ (DataType::Utf8View | DataType::LargeUtf8)) => t.clone(),
        _ => DataType::Utf8,
    }
}

/// `not_opted_out(text)`: false for the hub pseudonyms of people in the opt-out
/// register. A function rather than an `IN` list so that no plan ever shows them.
#[derive(Clone)]
pub struct NotOptedOut {
    register: Arc<HashSet<String>>,
    signature: Signature,
}

impl NotOptedOut {
    /// The filter over `register` (hub pseudonyms).
    pub fn new(register: Arc<HashSet<String>>) -> Self {
        Self {
            register,
            signature: Signature::string(1, Volatility::Immutable),
        }
    }

    /// As a DataFusion function.
    pub fn udf(self) -> Arc<ScalarUDF> {
        Arc::new(ScalarUDF::new_from_impl(self))
    }
}

impl std::fmt::Debug for NotOptedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotOptedOut")
            .field("register", &self.register.len())
            .finish()
    }
}

impl PartialEq for NotOptedOut {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.register, &other.register)
    }
}

impl Eq for NotOptedOut {}

impl Hash for NotOptedOut {
    fn hash<H: Hasher>(&self, state: &mut H) {
        Arc::as_ptr(&self.register).hash(state);
    }
}

impl ScalarUDFImpl for NotOptedOut {
    fn name(&self) -> &str {
        "not_opted_out"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        map_strings(&args, |values| {
            let kept: BooleanArray = values
                .map(|v| Some(v.is_none_or(|v| !self.register.contains(v))))
                .collect();
            Arc::new(kept)
        })
    }
}

/// Applies `f` to the text values of the one argument, whatever its string type.
fn map_strings(
    args: &ScalarFunctionArgs,
    f: impl Fn(&mut dyn Iterator<Item = Option<&str>>) -> ArrayRef,
) -> DfResult<ColumnarValue> {
    let [arg] = args.args.as_slice() else {
        return exec_err!("one argument expected");
    };
    let array = match arg {
        ColumnarValue::Array(array) => array.clone(),
        ColumnarValue::Scalar(scalar) => scalar.to_array_of_size(1)?,
    };
    let out = match array.data_type() {
        DataType::Utf8 => f(&mut array.as_string::<i32>().iter()),
        DataType::LargeUtf8 => f(&mut array.as_string::<i64>().iter()),
        DataType::Utf8View => f(&mut array.as_string_view().iter()),
        DataType::Null => f(&mut std::iter::repeat_n(None, array.len())),
        other => return exec_err!("text expected, not {other}"),
    };
    Ok(match arg {
        ColumnarValue::Array(_) => ColumnarValue::Array(out),
        ColumnarValue::Scalar(_) => ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_projects_see_different_pseudonyms_of_the_same_person() {
        let (a, b) = (
            ProjectPseudonym::new("a", &[1; 32]),
            ProjectPseudonym::new("b", &[2; 32]),
        );
        let hub = "0123456789abcdef0123456789abcdef";
        assert_eq!(a.pseudonym(hub), a.pseudonym(hub));
        assert_ne!(a.pseudonym(hub), b.pseudonym(hub));
        assert_ne!(a.pseudonym(hub), hub);
        assert_eq!(a.pseudonym(hub).len(), 32);
    }
}
