//! The catalogue of a workspace, for the clients that list its tables and columns
//! before they query (psql's `\d`, DBeaver, R's `dbListTables`, SQLAlchemy's
//! inspector, JDBC's `DatabaseMetaData`): the permit checked as for a query (a refusal
//! audited the same way), then the permit's tables and columns as the workspace shows
//! them, with the hub catalogue's descriptions, for a session holding no data
//! ([`bastide_query::catalogue`]). Reading it is not a query of the data: no history
//! row, no `query.*` event (the connection's sign-in is on record), but the same
//! per-user cap on running statements.

use std::collections::{BTreeMap, BTreeSet};

use bastide_core::ids::ProjectId;
use bastide_ingest::TableSchema;
use bastide_query::Ticket;
use bastide_query::catalogue::ListedTable;

use super::{Caller, Hub};
use crate::Action;
use crate::queries::{Channel, Client, Destination, QueryFailure, query_event};

/// The catalogue of a project's workspace: what a client may list; it holds the
/// caller's place among their running statements while it lives.
#[derive(Debug)]
pub struct WorkspaceCatalogue {
    /// The permit's tables as the workspace shows them, by name.
    pub tables: Vec<ListedTable>,
    _ticket: Ticket,
}

impl Hub {
    /// The catalogue of `project`'s workspace as `by`'s permit shows it, for the
    /// statement `sql` (recorded only if the permit refuses it).
    pub async fn workspace_catalogue(
        &self,
        by: &Caller,
        project: &ProjectId,
        client: Client,
        sql: &str,
    ) -> Result<WorkspaceCatalogue, QueryFailure> {
        let principal = by.authenticated()?;
        let event =
            |outcome| query_event(by, Action::QueryRun, project, sql, Channel::Wire, outcome);
        let scope = self
            .permitted(principal, project, client, Destination::Shown, &event)
            .await?;
        let ticket = self.admit(principal, &event).await?;
        let described = self.column_descriptions(scope.dataset()).await?;
        let every: BTreeSet<String> = scope
            .tables()
            .iter()
            .map(|t| t.name.to_lowercase())
            .collect();
        let workspace = self
            .workspace(scope, Some(&every), self.opt_outs().await?)
            .await?;
        let tables: Vec<ListedTable> = workspace
            .views()
            .iter()
            .map(|(name, view)| ListedTable {
                name: name.clone(),
                schema: view.schema(),
                descriptions: described.get(name).cloned().unwrap_or_default(),
            })
            .collect();
        Ok(WorkspaceCatalogue {
            tables,
            _ticket: ticket,
        })
    }

    /// What each column of `dataset`'s tables holds, by table and column name in
    /// lower case (as the workspace names them).
    async fn column_descriptions(
        &self,
        dataset: &str,
    ) -> crate::Result<BTreeMap<String, BTreeMap<String, String>>> {
        let mut described = BTreeMap::new();
        for record in self.meta.datasets().tables(dataset).await? {
            let Ok(schema) = TableSchema::parse(&record.name, record.schema_json.as_bytes()) else {
                continue;
            };
            let columns = schema
                .columns
                .iter()
                .filter(|c| !c.description.is_empty())
                .map(|c| (c.name.to_lowercase(), c.description.clone()))
                .collect();
            described.insert(record.name.to_lowercase(), columns);
        }
        Ok(described)
    }
}
