//! The opt-out register: people who objected to the use of their data, by hub
//! pseudonym only. Their rows leave every project view (`bastide-query::rows`).

use bastide_meta::MetaStore;

use crate::{Now, OptOutCounting, Result, Stewardship};

/// The register kept in the metadata database.
#[derive(Debug, Clone, Copy)]
pub struct OptOuts<'a> {
    meta: &'a MetaStore,
}

/// What recording an objection did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct OptOutRecorded {
    /// False when the person had objected before.
    pub recorded: bool,
    /// Objections in the register.
    pub total: usize,
}

impl<'a> OptOuts<'a> {
    /// The register kept in `meta`.
    pub fn new(meta: &'a MetaStore) -> Self {
        Self { meta }
    }

    /// Records the objection of the person whose hub pseudonym is `pseudonym`.
    pub async fn record(
        &self,
        steward: &Stewardship<'_>,
        pseudonym: &str,
        now: Now,
    ) -> Result<OptOutRecorded> {
        let repo = self.meta.projects();
        let recorded = repo.add_opt_out(pseudonym, &steward.by().name, now).await?;
        let total = repo.opt_outs().await?.len();
        Ok(OptOutRecorded { recorded, total })
    }

    /// How many objections the register holds; never who.
    pub async fn count(&self, _: &OptOutCounting<'_>) -> Result<usize> {
        Ok(self.meta.projects().opt_outs().await?.len())
    }
}
