//! Carrying each row's person up a plan, to the aggregation whose cells are checked.
//!
//! Under an aggregate-only permit every permitted table can add one column, the key
//! of the person its row is about ([`crate::permitted::PermittedTable`],
//! [`super::key`]).
//! [`Threader::thread`] asks every scan for it and passes it, unchanged, through each
//! step up to the aggregation: projections and filters carry it, a join carries both
//! sides' persons (one, when the join is on the person itself; a row of an outer join
//! without a match belongs to the other side's person), a union carries each branch's.
//!
//! A step that mixes rows of several persons into one value below the checked
//! aggregation would hide whose rows they are: an inner aggregation, a window or a
//! `DISTINCT` must be per person (grouped or partitioned by a column holding the
//! person), and no value may come from a scalar subquery (`SUM((SELECT MAX(x) …))`
//! would spread one person's value over everyone). Those are refused, with the way to
//! write the question so that it can be checked.

use std::sync::Arc;

use datafusion::catalog::default_table_source::source_as_provider;
use datafusion::common::tree_node::TreeNode;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{Column, DFSchema, ScalarValue};
use datafusion::functions::core::expr_fn::coalesce;
use datafusion::logical_expr::expr::{BinaryExpr, Exists, InSubquery, SetComparison};
use datafusion::logical_expr::utils::split_conjunction;
use datafusion::logical_expr::{
    Aggregate, Distinct, Expr, ExprSchemable, Join, JoinType, LogicalPlan, Operator, Projection,
    ScalarUDF, TableScan, TableScanBuilder, Union, Window, cast, lit,
};

use super::key::KEY_TYPE;
use super::lookup;
use crate::error::internal;
use crate::permitted::PermittedTable;
use crate::pseudonym::{HUB_PSEUDONYM, PROJECT_PSEUDONYM};
use crate::pseudonymise::strip_alias;
use crate::rows::PERSON;
use crate::{Error, Result};

const HINT: &str = "under an aggregate-only permit each answer is checked against the persons behind its cells: aggregate per person first (GROUP BY the person's identifier, or PARTITION BY it), and compute values from each row's own columns";

/// A person carried by a plan: the column holding them, and other output columns known
/// to hold the same value.
#[derive(Debug, Clone)]
pub(crate) struct Person {
    pub column: Column,
    same: Vec<Column>,
}

/// A plan that carries its rows' persons.
#[derive(Debug)]
pub(crate) struct Threaded {
    pub plan: LogicalPlan,
    pub persons: Vec<Person>,
}

impl Threaded {
    fn alone(plan: LogicalPlan) -> Self {
        Self {
            plan,
            persons: Vec::new(),
        }
    }
}

/// Threads persons through plans, naming the columns it adds.
#[derive(Debug)]
pub(crate) struct Threader {
    added: usize,
    /// The project's `person_key` ([`super::key`]).
    person_key: Arc<ScalarUDF>,
}

impl Threader {
    pub fn new(person_key: Arc<ScalarUDF>) -> Self {
        Self {
            added: 0,
            person_key,
        }
    }

    /// A threader whose plans are only looked at (which persons they carry), never
    /// run: any key will do.
    fn analysing() -> Self {
        Self::new(super::key::person_keys(0))
    }

    fn fresh(&mut self) -> String {
        self.added += 1;
        format!("{PERSON}_{}", self.added)
    }

    /// `plan` with its rows' persons as more columns.
    #[recursive::recursive]
    pub fn thread(&mut self, plan: LogicalPlan) -> Result<Threaded> {
        match plan {
            LogicalPlan::TableScan(scan) => self.scan(scan),
            LogicalPlan::Projection(p) => self.projection(p),
            LogicalPlan::Filter(f) => match lookup::merged(&f)? {
                Some(join) => self.thread(join),
                None => self.passed(LogicalPlan::Filter(f)),
            },
            LogicalPlan::Sort(_)
            | LogicalPlan::Limit(_)
            | LogicalPlan::Repartition(_)
            | LogicalPlan::SubqueryAlias(_) => self.passed(plan),
            LogicalPlan::Join(j) => self.join(j),
            LogicalPlan::Aggregate(a) => self.aggregate(a),
            LogicalPlan::Window(w) => self.window(w),
            LogicalPlan::Distinct(Distinct::All(input)) => self.distinct(input),
            LogicalPlan::Union(u) => self.union(u),
            LogicalPlan::Values(_) | LogicalPlan::EmptyRelation(_) => Ok(Threaded::alone(plan)),
            other => Err(Error::Refused {
                construct: format!("the plan step {}", other.display()),
                hint: HINT,
            }),
        }
    }

    fn scan(&mut self, scan: TableScan) -> Result<Threaded> {
        let person = scan_person(&scan);
        let Some((index, equals)) = person else {
            return Ok(Threaded::alone(LogicalPlan::TableScan(scan)));
        };
        let width = scan.source.schema().fields().len();
        let mut projection = scan
            .projection
            .clone()
            .unwrap_or_else(|| (0..width).collect());
        if !projection.contains(&index) {
            projection.push(index);
        }
        let table = scan.table_name.clone();
        let threaded = TableScanBuilder::new(table.clone(), scan.source.clone())
            .with_projection(Some(projection))
            .with_filters(scan.filters.clone())
            .with_fetch(scan.fetch)
            .build()
            .map_err(internal)?;
        let same = equals
            .map(|c| Column::new(Some(table.clone()), c))
            .filter(|c| threaded.projected_schema.has_column(c))
            .into_iter()
            .collect();
        Ok(Threaded {
            plan: LogicalPlan::TableScan(threaded),
            persons: vec![Person {
                column: Column::new(Some(table), PERSON),
                same,
            }],
        })
    }

    fn projection(&mut self, p: Projection) -> Result<Threaded> {
        let input = self.thread(Arc::unwrap_or_clone(p.input))?;
        selections(&p.expr, input.plan.schema(), &input.persons)?;
        if input.persons.is_empty() {
            return rebuilt_projection(p.expr, input.plan);
        }
        let mut exprs = p.expr.clone();
        let mut names = Vec::new();
        for person in &input.persons {
            let name = self.fresh();
            exprs.push(Expr::Column(person.column.clone()).alias(&name));
            names.push(name);
        }
        let schema = input.plan.schema().clone();
        let plan = Projection::try_new(exprs, Arc::new(input.plan)).map_err(internal)?;
        let persons = input
            .persons
            .iter()
            .zip(names)
            .map(|(person, name)| Person {
                column: Column::from_name(name),
                same: p
                    .expr
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| holds(e, person, &schema))
                    .map(|(j, _)| Column::from(plan.schema.qualified_field(j)))
                    .collect(),
            })
            .collect();
        Ok(Threaded {
            plan: LogicalPlan::Projection(plan),
            persons,
        })
    }

    /// A step whose columns are its input's (renamed at most).
    fn passed(&mut self, plan: LogicalPlan) -> Result<Threaded> {
        let input = plan
            .inputs()
            .first()
            .map(|i| (*i).clone())
            .ok_or_else(|| Error::Internal("a step without input".into()))?;
        let input = self.thread(input)?;
        let cut = match &plan {
            LogicalPlan::Limit(_) => true,
            LogicalPlan::Sort(s) => s.fetch.is_some(),
            _ => false,
        };
        if cut && !input.persons.is_empty() {
            // The first rows by an order are chosen by other rows' values (the 11th
            // largest is the sum of 11 less the sum of 10).
            return Err(Error::Refused {
                construct: "LIMIT inside the query over rows about persons".into(),
                hint: HINT,
            });
        }
        let before = input.plan.schema().clone();
        selections(&plan.expressions(), &before, &input.persons)?;
        let plan = plan
            .with_new_exprs(plan.expressions(), vec![input.plan])
            .map_err(internal)?;
        let after = plan.schema().clone();
        let moved = |c: &Column| -> Option<Column> {
            let i = before.index_of_column(c).ok()?;
            Some(Column::from(after.qualified_field(i)))
        };
        let persons = input
            .persons
            .iter()
            .map(|p| {
                Ok(Person {
                    column: moved(&p.column)
                        .ok_or_else(|| Error::Internal("a person lost on the way".into()))?,
                    same: p.same.iter().filter_map(moved).collect(),
                })
            })
            .collect::<Result<_>>()?;
        Ok(Threaded { plan, persons })
    }

    fn join(&mut self, j: Join) -> Result<Threaded> {
        let (mut left, mut right) = match j.join_type {
            JoinType::Inner | JoinType::Left | JoinType::Right | JoinType::Full => (
                self.thread(Arc::unwrap_or_clone(j.left.clone()))?,
                self.thread(Arc::unwrap_or_clone(j.right.clone()))?,
            ),
            JoinType::LeftSemi
            | JoinType::LeftAnti
            | JoinType::LeftMark
            | JoinType::RightSemi
            | JoinType::RightAnti
            | JoinType::RightMark => {
                return self.semi(j);
            }
        };
        if !(left.persons.is_empty() && right.persons.is_empty()) {
            let no_one_left = (left.persons.is_empty() != right.persons.is_empty())
                .then_some(left.persons.is_empty());
            lookup::check(&j, no_one_left)?;
        }
        // Rows about two persons meet on their person, or one side is looked up on
        // its key: otherwise each row meets as many rows as the data says (claims
        // joined with beneficiaries of the same birth year and sex: everyone's rows
        // counted sixty times, one man's once, and two answers give his rows away).
        if !left.persons.is_empty() && !right.persons.is_empty() {
            let (ls, rs) = (left.plan.schema().clone(), right.plan.schema().clone());
            let on_person = equalities(&j, &ls, &rs).iter().any(|(l, r)| {
                left.persons.iter().any(|p| holds(l, p, &ls))
                    && right.persons.iter().any(|p| holds(r, p, &rs))
            });
            let original = equalities(&j, j.left.schema(), j.right.schema());
            if !on_person && !lookup::keyed(&j, &original) {
                return Err(Error::Refused {
                    construct:
                        "a join of rows about persons on something other than their person or a key"
                            .into(),
                    hint: "join tables about persons on the person (c.ben_nir_psa = b.ben_nir_psa) or on the key of one of them (a drug line to its claim); compare other columns in the same condition",
                });
            }
        }
        // Joined on the person: one person, known by both sides' columns.
        let keeps_left = matches!(j.join_type, JoinType::Inner | JoinType::Left);
        if keeps_left || j.join_type == JoinType::Right {
            let (ls, rs) = (left.plan.schema().clone(), right.plan.schema().clone());
            for (l, r) in &equalities(&j, &ls, &rs) {
                let a = left.persons.iter().position(|p| holds(l, p, &ls));
                let b = right.persons.iter().position(|p| holds(r, p, &rs));
                // The side an outer join may leave NULL holds the person only where it
                // matched: its columns are not the person's (grouping by them would put
                // unmatched rows of several persons together).
                if let (Some(a), Some(b)) = (a, b) {
                    if keeps_left {
                        let gone = right.persons.remove(b);
                        if j.join_type == JoinType::Inner {
                            left.persons[a].same.extend(gone.same);
                            left.persons[a].same.push(gone.column);
                        }
                    } else {
                        left.persons.remove(a);
                    }
                }
            }
        }
        let joined = DFSchema::new_with_metadata(
            left.plan
                .schema()
                .iter()
                .chain(right.plan.schema().iter())
                .map(|(q, f)| (q.cloned(), f.clone()))
                .collect(),
            Default::default(),
        )
        .map_err(internal)?;
        let all: Vec<Person> = left.persons.iter().chain(&right.persons).cloned().collect();
        selections(j.filter.as_slice(), &joined, &all)?;
        let plan = LogicalPlan::Join(
            Join::try_new(
                Arc::new(left.plan),
                Arc::new(right.plan),
                j.on.clone(),
                j.filter.clone(),
                j.join_type,
                j.join_constraint,
                j.null_equality,
                j.null_aware,
            )
            .map_err(internal)?,
        );
        // A row without a match on one side belongs to the other side's person.
        let (left_null, right_null) = match j.join_type {
            JoinType::Left => (false, true),
            JoinType::Right => (true, false),
            JoinType::Full => (true, true),
            _ => (false, false),
        };
        let both = !left.persons.is_empty() && !right.persons.is_empty();
        if !(both && (left_null || right_null)) {
            let persons = left.persons.into_iter().chain(right.persons).collect();
            return Ok(Threaded { plan, persons });
        }
        let mut exprs: Vec<Expr> = plan
            .schema()
            .columns()
            .into_iter()
            .map(Expr::Column)
            .collect();
        let mut persons = Vec::new();
        let sides = [
            (&left.persons, left_null, right.persons.first()),
            (&right.persons, right_null, left.persons.first()),
        ];
        for (own, nullable, other) in sides {
            for person in own {
                let value = match (nullable, other) {
                    (true, Some(other)) => coalesce(vec![
                        Expr::Column(person.column.clone()),
                        Expr::Column(other.column.clone()),
                    ]),
                    _ => Expr::Column(person.column.clone()),
                };
                let name = self.fresh();
                exprs.push(value.alias(&name));
                persons.push(Person {
                    column: Column::from_name(name),
                    same: if nullable {
                        Vec::new()
                    } else {
                        person.same.clone()
                    },
                });
            }
        }
        let plan = Projection::try_new(exprs, Arc::new(plan)).map_err(internal)?;
        Ok(Threaded {
            plan: LogicalPlan::Projection(plan),
            persons,
        })
    }

    /// A semi or anti join (`LEFT SEMI JOIN`, or `IN` and `EXISTS` once planned as
    /// joins): it keeps one side's rows by the other's. Facts about someone else may
    /// not choose a person's rows: when the other side has persons, the join must be on
    /// them.
    fn semi(&mut self, j: Join) -> Result<Threaded> {
        let kept_left = matches!(
            j.join_type,
            JoinType::LeftSemi | JoinType::LeftAnti | JoinType::LeftMark
        );
        let left = self.thread(Arc::unwrap_or_clone(j.left.clone()))?;
        let right = self.thread(Arc::unwrap_or_clone(j.right.clone()))?;
        let (ls, rs) = (left.plan.schema().clone(), right.plan.schema().clone());
        let (kept, other) = if kept_left {
            (&left, &right)
        } else {
            (&right, &left)
        };
        if let Some(filter) = &j.filter {
            let subquery = filter
                .exists(|e| {
                    Ok(matches!(
                        e,
                        Expr::ScalarSubquery(_)
                            | Expr::InSubquery(_)
                            | Expr::Exists(_)
                            | Expr::SetComparison(_)
                    ))
                })
                .map_err(internal)?;
            if subquery {
                return Err(Error::Refused {
                    construct: "a subquery in a semi or anti join's condition".into(),
                    hint: SELECTION,
                });
            }
        }
        let pairs = equalities(&j, &ls, &rs);
        let on_person = |p: &Person| {
            pairs.iter().any(|(l, r)| {
                let (mine, theirs, my_schema, their_schema) = if kept_left {
                    (l, r, &ls, &rs)
                } else {
                    (r, l, &rs, &ls)
                };
                holds(theirs, p, their_schema)
                    && kept.persons.iter().any(|k| holds(mine, k, my_schema))
            })
        };
        let about_persons = !other.persons.is_empty();
        if about_persons && !other.persons.iter().all(on_person) {
            return Err(Error::Refused {
                construct: "rows chosen by facts about other persons".into(),
                hint: SELECTION,
            });
        }
        let persons = kept.persons.clone();
        let plan = Join::try_new(
            Arc::new(left.plan),
            Arc::new(right.plan),
            j.on,
            j.filter,
            j.join_type,
            j.join_constraint,
            j.null_equality,
            j.null_aware,
        )
        .map_err(internal)?;
        Ok(Threaded {
            plan: LogicalPlan::Join(plan),
            persons,
        })
    }

    /// An aggregation below the checked one: per person, its group keys then name
    /// every person of its rows.
    fn aggregate(&mut self, a: Aggregate) -> Result<Threaded> {
        let input = self.thread(Arc::unwrap_or_clone(a.input))?;
        let schema = input.plan.schema().clone();
        selections(&a.group_expr, &schema, &input.persons)?;
        selections(&a.aggr_expr, &schema, &input.persons)?;
        let grouped_by =
            |person: &Person| a.group_expr.iter().position(|g| holds(g, person, &schema));
        let grouped: Vec<usize> = input.persons.iter().filter_map(grouped_by).collect();
        if grouped.len() < input.persons.len() {
            return Err(Error::Refused {
                construct: "an aggregation inside the query over the rows of several persons"
                    .into(),
                hint: HINT,
            });
        }
        if a.group_expr
            .iter()
            .any(|e| matches!(e, Expr::GroupingSet(_)))
            && !grouped.is_empty()
        {
            return Err(Error::Refused {
                construct: "ROLLUP, CUBE or GROUPING SETS inside the query".into(),
                hint: HINT,
            });
        }
        let plan = Aggregate::try_new(Arc::new(input.plan), a.group_expr, a.aggr_expr)
            .map_err(internal)?;
        let columns = grouped
            .into_iter()
            .map(|j| Column::from(plan.schema.qualified_field(j)))
            .collect();
        self.keyed(LogicalPlan::Aggregate(plan), columns)
    }

    /// `plan` with the key of the person each of `columns` names (see
    /// [`super::key`]) as more columns.
    fn keyed(&mut self, plan: LogicalPlan, columns: Vec<Column>) -> Result<Threaded> {
        let schema = plan.schema().clone();
        let mut exprs: Vec<Expr> = schema.columns().into_iter().map(Expr::Column).collect();
        let mut persons = Vec::with_capacity(columns.len());
        for column in columns {
            let value = Expr::Column(column.clone());
            let key = if value.get_type(&schema).map_err(internal)? == KEY_TYPE {
                value
            } else {
                self.person_key.call(vec![value])
            };
            let name = self.fresh();
            exprs.push(key.alias(&name));
            persons.push(Person {
                column: Column::from_name(name),
                same: vec![column],
            });
        }
        let plan = Projection::try_new(exprs, Arc::new(plan)).map_err(internal)?;
        Ok(Threaded {
            plan: LogicalPlan::Projection(plan),
            persons,
        })
    }

    /// Window functions below the checked aggregation: each over one person's rows.
    fn window(&mut self, w: Window) -> Result<Threaded> {
        let input = self.thread(Arc::unwrap_or_clone(w.input))?;
        let schema = input.plan.schema().clone();
        selections(&w.window_expr, &schema, &input.persons)?;
        if !input.persons.is_empty() {
            for e in &w.window_expr {
                // Partitioned by every person of the rows: a value of one person's
                // rows cannot reach a row of another.
                let per_person = match strip_alias(e) {
                    Expr::WindowFunction(f) => input.persons.iter().all(|person| {
                        f.params
                            .partition_by
                            .iter()
                            .any(|p| holds(p, person, &schema))
                    }),
                    _ => false,
                };
                if !per_person {
                    return Err(Error::Refused {
                        construct: "a window function over the rows of several persons".into(),
                        hint: HINT,
                    });
                }
            }
        }
        let plan = Window::try_new(w.window_expr, Arc::new(input.plan)).map_err(internal)?;
        Ok(Threaded {
            plan: LogicalPlan::Window(plan),
            persons: input.persons,
        })
    }

    /// `DISTINCT` below the checked aggregation: over columns that name the person.
    fn distinct(&mut self, input: Arc<LogicalPlan>) -> Result<Threaded> {
        let threaded = self.thread(Arc::unwrap_or_clone(input.clone()))?;
        let columns: Vec<Column> = threaded
            .persons
            .iter()
            .filter_map(|p| {
                p.same
                    .iter()
                    .find(|c| input.schema().has_column(c))
                    .cloned()
            })
            .collect();
        if columns.len() < threaded.persons.len() {
            return Err(Error::Refused {
                construct: "DISTINCT inside the query over rows of several persons".into(),
                hint: HINT,
            });
        }
        self.keyed(LogicalPlan::Distinct(Distinct::All(input)), columns)
    }

    fn union(&mut self, u: Union) -> Result<Threaded> {
        // Two branches reading one table about persons count some persons' rows twice
        // and others' once (`… FROM claims UNION ALL … FROM claims WHERE <one
        // person>`): a difference of cells about everyone is then that person's.
        let mut seen: Vec<String> = Vec::new();
        for input in &u.inputs {
            let mut mine: Vec<String> = Vec::new();
            input
                .apply(|node| {
                    if let LogicalPlan::TableScan(scan) = node
                        && scan_person(scan).is_some()
                    {
                        mine.push(scan.table_name.to_string());
                    }
                    Ok(TreeNodeRecursion::Continue)
                })
                .map_err(internal)?;
            if mine.iter().any(|t| seen.contains(t)) {
                return Err(Error::Refused {
                    construct: "a UNION whose branches read the same table about persons".into(),
                    hint: "combine the branches' conditions with OR in one SELECT: each row counts once",
                });
            }
            seen.extend(mine);
        }
        let originals: Vec<Arc<DFSchema>> = u.inputs.iter().map(|i| i.schema().clone()).collect();
        let branches = u
            .inputs
            .into_iter()
            .map(|i| self.thread(Arc::unwrap_or_clone(i)))
            .collect::<Result<Vec<_>>>()?;
        let most = branches.iter().map(|b| b.persons.len()).max().unwrap_or(0);
        let person_type = branches
            .iter()
            .find_map(|b| {
                let p = b.persons.first()?;
                Some(Expr::Column(p.column.clone()).get_type(b.plan.schema()))
            })
            .transpose()
            .map_err(internal)?;
        let names: Vec<String> = (0..most).map(|_| self.fresh()).collect();
        let mut inputs = Vec::with_capacity(branches.len());
        for (branch, schema) in branches.into_iter().zip(originals) {
            let mut exprs: Vec<Expr> = schema.columns().into_iter().map(Expr::Column).collect();
            for (i, name) in names.iter().enumerate() {
                exprs.push(
                    match (branch.persons.get(i), &person_type) {
                        (Some(p), _) => Expr::Column(p.column.clone()),
                        (None, Some(t)) => cast(lit(ScalarValue::Null), t.clone()),
                        (None, None) => lit(ScalarValue::Null),
                    }
                    .alias(name),
                );
            }
            let plan = Projection::try_new(exprs, Arc::new(branch.plan)).map_err(internal)?;
            inputs.push(Arc::new(LogicalPlan::Projection(plan)));
        }
        // As the SQL planner builds it: branches' types are made to agree later, by
        // the analyser's type coercion.
        let plan = Union::try_new_with_loose_types(inputs).map_err(internal)?;
        let width = plan.schema.fields().len();
        let persons = (width - most..width)
            .map(|j| Person {
                column: Column::from(plan.schema.qualified_field(j)),
                same: Vec::new(),
            })
            .collect();
        Ok(Threaded {
            plan: LogicalPlan::Union(plan),
            persons,
        })
    }
}

/// The pairs of expressions a join's rows are equal on: its keys, and the equalities
/// of its condition between a column of each side (as planned, `JOIN … ON a = b` is a
/// condition until the optimiser makes it a key).
fn equalities(j: &Join, left: &DFSchema, right: &DFSchema) -> Vec<(Expr, Expr)> {
    let mut pairs = j.on.clone();
    for conjunct in j.filter.iter().flat_map(split_conjunction) {
        if let Expr::BinaryExpr(BinaryExpr {
            left: a,
            op: Operator::Eq,
            right: b,
        }) = conjunct
        {
            let side =
                |e: &Expr, schema: &DFSchema| e.column_refs().iter().all(|c| schema.has_column(c));
            if side(a, left) && side(b, right) {
                pairs.push((a.as_ref().clone(), b.as_ref().clone()));
            } else if side(b, left) && side(a, right) {
                pairs.push((b.as_ref().clone(), a.as_ref().clone()));
            }
        }
    }
    pairs
}

/// Where the person of `scan`'s rows is (the column's index, and the table's column
/// holding the same value), if its table is about persons.
pub(crate) fn scan_person(scan: &TableScan) -> Option<(usize, Option<String>)> {
    let provider = source_as_provider(&scan.source).ok()?;
    let table = provider.downcast_ref::<PermittedTable>()?;
    table
        .person()
        .map(|(index, equals)| (index, equals.map(str::to_owned)))
}

fn rebuilt_projection(exprs: Vec<Expr>, input: LogicalPlan) -> Result<Threaded> {
    let plan = Projection::try_new(exprs, Arc::new(input)).map_err(internal)?;
    Ok(Threaded::alone(LogicalPlan::Projection(plan)))
}

/// Whether `expr`, over `schema`, is the column of `person` (or one holding the same
/// value, pseudonymised or not).
pub(crate) fn holds(expr: &Expr, person: &Person, schema: &DFSchema) -> bool {
    let mut e = strip_alias(expr);
    while let Expr::ScalarFunction(f) = e
        && (f.func.name() == HUB_PSEUDONYM || f.func.name() == PROJECT_PSEUDONYM)
        && f.args.len() == 1
    {
        e = strip_alias(&f.args[0]);
    }
    let Expr::Column(column) = e else {
        return false;
    };
    let Ok(at) = schema.index_of_column(column) else {
        return false;
    };
    std::iter::once(&person.column)
        .chain(&person.same)
        .any(|c| schema.index_of_column(c).is_ok_and(|i| i == at))
}

const SELECTION: &str = "under an aggregate-only permit a row may be chosen by facts about its own person only: write the condition as person_id IN (SELECT person_id FROM … WHERE …), or a join on the person";

/// Checks the subqueries of `exprs`, over `schema` whose rows carry `persons`: no
/// value may come from a scalar subquery (`SUM((SELECT MAX(x) …))` spreads one
/// person's value over everyone, `WHERE x > (SELECT x … of one person)` compares with
/// it), and a subquery about persons may choose rows by their own person only
/// (`person IN (SELECT person …)`).
pub(crate) fn selections(exprs: &[Expr], schema: &DFSchema, persons: &[Person]) -> Result<()> {
    let mut failure = None;
    for expr in exprs {
        expr.apply(|e| {
            let verdict = match e {
                Expr::ScalarSubquery(_) => Err(Error::Refused {
                    construct: "a value computed by a subquery in an aggregate-only answer"
                        .into(),
                    hint: "compute that value in a query of its own: each answer's cells are checked against the persons behind them, which a subquery's value hides",
                }),
                Expr::InSubquery(InSubquery { expr, subquery, .. }) => {
                    own_person(expr, subquery.subquery.as_ref(), schema, persons)
                }
                Expr::Exists(Exists { subquery, .. }) => about_no_one(subquery.subquery.as_ref()),
                Expr::SetComparison(SetComparison { subquery, .. }) => {
                    about_no_one(subquery.subquery.as_ref())
                }
                _ => Ok(()),
            };
            Ok(match verdict {
                Ok(()) => TreeNodeRecursion::Continue,
                Err(err) => {
                    failure = Some(err);
                    TreeNodeRecursion::Stop
                }
            })
        })
        .map_err(internal)?;
        if let Some(err) = failure.take() {
            return Err(err);
        }
    }
    Ok(())
}

/// `expr IN (subquery)`: when the subquery is about persons, `expr` must be a person
/// of the row and the subquery's column that same person.
fn own_person(
    expr: &Expr,
    subquery: &LogicalPlan,
    schema: &DFSchema,
    persons: &[Person],
) -> Result<()> {
    let inner = Threader::analysing().thread(subquery.clone())?;
    if inner.persons.is_empty() {
        return Ok(());
    }
    let first = Expr::Column(Column::from(inner.plan.schema().qualified_field(0)));
    let theirs = inner
        .persons
        .iter()
        .all(|p| holds(&first, p, inner.plan.schema()));
    let mine = persons.iter().any(|p| holds(expr, p, schema));
    if theirs && mine {
        Ok(())
    } else {
        Err(Error::Refused {
            construct: "rows chosen by facts about other persons".into(),
            hint: SELECTION,
        })
    }
}

/// `EXISTS (subquery)`, `x > ANY (subquery)`: only over rows about no one.
fn about_no_one(subquery: &LogicalPlan) -> Result<()> {
    if Threader::analysing()
        .thread(subquery.clone())?
        .persons
        .is_empty()
    {
        Ok(())
    } else {
        Err(Error::Refused {
            construct: "EXISTS or ANY/ALL over rows about persons".into(),
            hint: SELECTION,
        })
    }
}
