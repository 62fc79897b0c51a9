//! `bastide export`: every dataset, decrypted, in open formats. The export is an
//! audited event, and counts toward the export-volume alert.

use bastide_core::config::Settings;
use bastide_core::ids::DatasetName;
use bastide_hub::Hub;

use crate::cli::ExportArgs;
use crate::output;

/// Runs `bastide export`.
pub async fn run(settings: Settings, args: &ExportArgs, json: bool) -> anyhow::Result<()> {
    let datasets = args
        .datasets
        .iter()
        .map(|d| DatasetName::parse(d))
        .collect::<Result<Vec<_>, _>>()?;
    let hub = Hub::open(settings).await?;
    let result = hub.export(&hub.operator(), &args.to, &datasets).await;
    hub.close_quietly().await;
    let report = result?;
    output::print(json, &report, || {
        format!(
            "Exported {} tables ({} rows, {} bytes) to {}: plain Parquet, a Table Schema per table, and catalogue.json.\n\
             These files are decrypted: keep them inside the secure environment.",
            report.tables,
            report.rows,
            report.bytes,
            args.to.display()
        )
    });
    Ok(())
}
