//! Escape attempts: each is a test, and each must be refused by the guard with a
//! message naming what was refused. Add one here for every new way out found.

use bastide_query::guard::check;

/// Declares a test that `sql` is refused with a message containing `names`.
macro_rules! refused {
    ($name:ident, $sql:expr, $names:expr) => {
        #[test]
        fn $name() {
            let sql: String = $sql.into();
            match check(&sql) {
                Ok(_) => panic!("let through: {sql}"),
                Err(e) => {
                    let message = e.to_string();
                    assert!(
                        message.contains($names),
                        "{sql}\n  refused as: {message}\n  expected it to name: {}",
                        $names
                    );
                }
            }
        }
    };
}

/// Declares a test that `sql` passes the guard.
macro_rules! allowed {
    ($name:ident, $sql:expr) => {
        #[test]
        fn $name() {
            if let Err(e) = check($sql) {
                panic!("{}: {e}", $sql);
            }
        }
    };
}

// Changing data or schema.
refused!(drop_table_is_refused, "DROP TABLE ir_ben_r", "DROP TABLE");
refused!(drop_view_is_refused, "DROP VIEW ir_ben_r", "DROP VIEW");
refused!(
    create_table_as_select_is_refused,
    "CREATE TABLE loot AS SELECT * FROM ir_ben_r",
    "CREATE TABLE"
);
refused!(
    create_view_is_refused,
    "CREATE VIEW v AS SELECT 1",
    "CREATE VIEW"
);
refused!(
    create_temporary_table_is_refused,
    "CREATE TEMPORARY TABLE t (a INT)",
    "CREATE TEMPORARY TABLE"
);
refused!(
    create_schema_is_refused,
    "CREATE SCHEMA loot",
    "CREATE SCHEMA"
);
refused!(
    create_function_is_refused,
    "CREATE FUNCTION f() RETURNS INT RETURN 1",
    "CREATE FUNCTION"
);
refused!(
    alter_table_is_refused,
    "ALTER TABLE ir_ben_r ADD COLUMN x INT",
    "ALTER TABLE"
);
refused!(
    insert_is_refused,
    "INSERT INTO ir_ben_r VALUES (1)",
    "INSERT"
);
refused!(
    insert_from_a_cte_is_refused,
    "WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x",
    "INSERT"
);
refused!(
    update_is_refused,
    "UPDATE ir_ben_r SET ben_sex_cod = 1",
    "UPDATE"
);
refused!(delete_is_refused, "DELETE FROM ir_ben_r", "DELETE");
refused!(truncate_is_refused, "TRUNCATE ir_ben_r", "TRUNCATE");
refused!(
    merge_is_refused,
    "MERGE INTO t USING s ON true WHEN MATCHED THEN DELETE",
    "MERGE"
);
refused!(
    grant_is_refused,
    "GRANT SELECT ON ir_ben_r TO public",
    "GRANT"
);
refused!(
    select_into_a_new_table_is_refused,
    "SELECT * INTO loot FROM ir_ben_r",
    "SELECT … INTO"
);

// Reading or writing files.
refused!(
    copy_table_to_a_file_is_refused,
    "COPY ir_ben_r TO '/tmp/loot.csv'",
    "COPY"
);
refused!(
    copy_query_to_a_file_is_refused,
    "COPY (SELECT * FROM ir_ben_r) TO '/tmp/loot.parquet'",
    "COPY"
);
refused!(
    copy_inside_explain_is_refused,
    "EXPLAIN COPY ir_ben_r TO '/tmp/loot.csv'",
    "COPY"
);
refused!(
    create_external_table_is_refused,
    "CREATE EXTERNAL TABLE loot STORED AS PARQUET LOCATION '/srv/bastide/objects/'",
    "CREATE EXTERNAL TABLE"
);
refused!(
    read_parquet_is_refused,
    "SELECT * FROM read_parquet('/srv/bastide/objects/x.parquet')",
    "table function read_parquet"
);
refused!(
    read_csv_is_refused,
    "SELECT * FROM read_csv('/etc/passwd')",
    "table function read_csv"
);
refused!(
    read_json_is_refused,
    "SELECT * FROM read_json('/etc/passwd')",
    "table function read_json"
);
refused!(
    parquet_metadata_is_refused,
    "SELECT * FROM parquet_metadata('x.parquet')",
    "table function parquet_metadata"
);
refused!(
    a_table_function_in_a_subquery_is_refused,
    "SELECT count(*) FROM (SELECT * FROM read_csv('/etc/shadow')) t",
    "table function read_csv"
);
refused!(
    a_lateral_table_function_is_refused,
    "SELECT * FROM ir_ben_r, LATERAL read_csv('x.csv')",
    "read_csv"
);
refused!(
    a_table_function_in_a_cte_is_refused,
    "WITH f AS (SELECT * FROM read_csv('/etc/passwd')) SELECT * FROM f",
    "table function read_csv"
);
refused!(
    a_quoted_file_path_is_refused,
    "SELECT * FROM \"/etc/passwd\"",
    "file path"
);
refused!(
    a_quoted_parquet_file_is_refused,
    "SELECT * FROM \"loot.parquet\"",
    "file path"
);
refused!(
    an_object_store_url_is_refused,
    "SELECT * FROM \"s3://bucket/datasets/snds/x.parquet\"",
    "file path"
);
refused!(
    a_file_url_is_refused,
    "SELECT * FROM \"file:///srv/bastide/objects/x.parquet\"",
    "file path"
);

// Catalogue introspection beyond the permit.
refused!(
    information_schema_tables_is_refused,
    "SELECT * FROM information_schema.tables",
    "qualified name"
);
refused!(
    information_schema_columns_is_refused,
    "SELECT column_name FROM information_schema.columns",
    "qualified name"
);
refused!(
    information_schema_settings_are_refused,
    "SELECT * FROM information_schema.df_settings",
    "qualified name"
);
refused!(
    pg_catalog_is_refused,
    "SELECT * FROM pg_catalog.pg_tables",
    "qualified name"
);
refused!(
    a_fully_qualified_table_is_refused,
    "SELECT * FROM datafusion.public.ir_ben_r",
    "qualified name"
);
refused!(
    a_schema_qualified_table_is_refused,
    "SELECT * FROM public.ir_ben_r",
    "qualified name"
);
refused!(
    introspection_in_a_join_is_refused,
    "SELECT 1 FROM ir_ben_r JOIN information_schema.tables ON true",
    "qualified name"
);
refused!(
    introspection_in_a_scalar_subquery_is_refused,
    "SELECT (SELECT count(*) FROM information_schema.tables)",
    "qualified name"
);
refused!(
    introspection_in_a_cte_is_refused,
    "WITH t AS (SELECT * FROM information_schema.views) SELECT * FROM t",
    "qualified name"
);
refused!(
    introspection_in_exists_is_refused,
    "SELECT 1 WHERE EXISTS (SELECT 1 FROM information_schema.tables)",
    "qualified name"
);
refused!(show_tables_is_refused, "SHOW TABLES", "SHOW TABLES");
refused!(show_all_settings_is_refused, "SHOW ALL", "SHOW");
refused!(describe_is_refused, "DESCRIBE ir_ben_r", "DESCRIBE");
refused!(
    a_qualified_function_is_refused,
    "SELECT pg_catalog.version()",
    "qualified function"
);

// Settings and session state.
refused!(
    set_is_refused,
    "SET datafusion.execution.target_partitions = 1",
    "SET"
);
refused!(
    set_to_turn_url_tables_on_is_refused,
    "SET datafusion.catalog.information_schema = true",
    "SET"
);
refused!(
    reset_is_refused,
    "RESET datafusion.execution.batch_size",
    "RESET"
);
refused!(prepare_is_refused, "PREPARE p AS SELECT 1", "PREPARE");
refused!(execute_is_refused, "EXECUTE p", "EXECUTE");
refused!(deallocate_is_refused, "DEALLOCATE p", "DEALLOCATE");
refused!(use_is_refused, "USE other", "USE");

// Smuggling a second statement.
refused!(
    a_second_statement_after_a_select_is_refused,
    "SELECT 1; DROP TABLE ir_ben_r",
    "2 statements"
);
refused!(
    a_statement_hidden_after_a_comment_is_refused,
    "SELECT 1 /* harmless */; DELETE FROM ir_ben_r --",
    "2 statements"
);
refused!(
    two_selects_are_refused,
    "SELECT 1; SELECT 2",
    "2 statements"
);
refused!(an_empty_query_is_refused, "   ", "an empty query");

// Locking and writing clauses on a read.
refused!(
    for_update_is_refused,
    "SELECT * FROM ir_ben_r FOR UPDATE",
    "FOR UPDATE"
);
refused!(
    explain_analyze_is_refused,
    "EXPLAIN ANALYZE SELECT * FROM ir_ben_r",
    "EXPLAIN ANALYZE"
);
refused!(
    explain_of_a_drop_is_refused,
    "EXPLAIN DROP TABLE ir_ben_r",
    "DROP TABLE"
);
refused!(
    explain_of_an_insert_is_refused,
    "EXPLAIN INSERT INTO ir_ben_r VALUES (1)",
    "INSERT"
);
refused!(
    the_table_shorthand_is_refused,
    "TABLE ir_ben_r",
    "found: TABLE"
);

// Exhausting the hub.
refused!(
    a_recursive_cte_is_refused,
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT * FROM r",
    "WITH RECURSIVE"
);
refused!(
    a_recursive_cte_in_a_subquery_is_refused,
    "SELECT * FROM (WITH RECURSIVE r AS (SELECT 1) SELECT * FROM r) t",
    "WITH RECURSIVE"
);
refused!(
    repeat_is_refused,
    "SELECT repeat('x', 2000000000)",
    "the function repeat"
);
refused!(
    lpad_is_refused,
    "SELECT lpad('x', 2000000000, 'y')",
    "the function lpad"
);
refused!(
    rpad_in_a_where_clause_is_refused,
    "SELECT 1 FROM ir_ben_r WHERE rpad(ben_nir_psa, 999999999) = ''",
    "the function rpad"
);
refused!(
    array_repeat_is_refused,
    "SELECT array_repeat(1, 1000000000)",
    "the function array_repeat"
);
refused!(
    a_query_nested_too_deep_is_refused,
    format!("SELECT {}1{}", "(".repeat(500), ")".repeat(500)),
    "nests too deeply"
);
refused!(
    a_huge_query_is_refused,
    format!("SELECT 1 -- {}", "x".repeat(200_000)),
    "60 kB"
);

// Not SQL at all.
refused!(
    a_syntax_error_names_its_position,
    "SELEC * FROM ir_ben_r",
    "Line: 1, Column: 1"
);
refused!(
    an_unterminated_string_is_a_syntax_error,
    "SELECT 'unterminated FROM ir_ben_r",
    "syntax error"
);

// What must still pass.
allowed!(
    a_plain_select_is_allowed,
    "SELECT ben_sex_cod, count(*) FROM ir_ben_r GROUP BY 1"
);
allowed!(
    a_cte_is_allowed,
    "WITH t AS (SELECT * FROM ir_ben_r) SELECT count(*) FROM t"
);
allowed!(explain_is_allowed, "EXPLAIN SELECT count(*) FROM ir_ben_r");
allowed!(
    joins_and_subqueries_are_allowed,
    "SELECT count(*) FROM ir_ben_r b JOIN (SELECT nir_ano_17 FROM t_mcoaac) s ON s.nir_ano_17 = b.ben_nir_psa WHERE EXISTS (SELECT 1 FROM t_mcoaab)"
);
allowed!(
    set_operations_are_allowed,
    "SELECT 1 UNION ALL SELECT 2 EXCEPT SELECT 3"
);
allowed!(
    generate_series_is_allowed,
    "SELECT count(*) FROM generate_series(1, 10)"
);
allowed!(values_are_allowed, "VALUES (1, 'a'), (2, 'b')");
allowed!(
    window_functions_are_allowed,
    "SELECT ben_sex_cod, row_number() OVER (ORDER BY ben_sex_cod) FROM ir_ben_r"
);

#[test]
fn the_guard_names_the_tables_a_query_reads_as_sql_folds_them() {
    let checked = check(
        "WITH t AS (SELECT * FROM IR_BEN_R) SELECT count(*) FROM t JOIN \"Stays\" s ON true \
         WHERE EXISTS (SELECT 1 FROM er_prs_f)",
    )
    .unwrap();
    let names: Vec<&str> = checked.relations().iter().map(String::as_str).collect();
    assert_eq!(names, ["Stays", "er_prs_f", "ir_ben_r", "t"]);
    let explained = check("EXPLAIN SELECT 1 FROM ir_ben_r").unwrap();
    assert!(explained.relations().contains("ir_ben_r"));
}
