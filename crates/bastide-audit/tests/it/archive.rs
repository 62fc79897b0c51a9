//! Archiving old segments: moved unchanged, still read, still verified, and the log
//! goes on.

use bastide_audit::{Filter, Options, archive, events};
use time::{Duration, OffsetDateTime};

use crate::{TestLog, event};

#[tokio::test]
async fn archived_segments_still_read_and_verify_and_the_log_goes_on() {
    let log = TestLog::with_options(Options {
        segment_entries: 4,
        ..Options::default()
    });
    let handle = log.create();
    for i in 0..10 {
        handle.append(event(i)).await.unwrap();
    }
    let now = OffsetDateTime::now_utc();
    assert_eq!(
        archive(&log.dir(), now - Duration::days(365))
            .unwrap()
            .segments,
        0,
        "nothing old yet"
    );
    let archived = archive(&log.dir(), now + Duration::hours(1)).unwrap();
    assert!(archived.segments >= 2, "{archived:?}");
    assert_eq!(archived.events, archived.segments as u64 * 4);
    let live = std::fs::read_dir(log.dir().join("segments"))
        .unwrap()
        .count();
    assert_eq!(live, 1, "the segment being written stays");
    assert!(log.dir().join("archive").is_dir());

    handle.append(event(10)).await.unwrap();
    handle.shutdown();
    let found = events(&log.dir(), &Filter::default()).unwrap();
    assert_eq!(
        found.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (0..11).collect::<Vec<_>>()
    );
    let report = log.verify().unwrap();
    assert_eq!(report.entries, 11);

    // Reopened, it recovers from archive and live segments alike.
    let reopened = log.open();
    assert_eq!(reopened.head().tree_size, 11);
    reopened.append(event(11)).await.unwrap();
    reopened.shutdown();
    assert_eq!(log.verify().unwrap().entries, 12);

    // Tampering with an archived segment is caught like anywhere else.
    let mut archived_files: Vec<_> = std::fs::read_dir(log.dir().join("archive"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    archived_files.sort();
    let first = &archived_files[0];
    let text = std::fs::read_to_string(first).unwrap();
    assert!(text.contains("actor"));
    std::fs::write(first, text.replacen("actor", "actoR", 1)).unwrap();
    assert!(log.verify().is_err(), "an altered archived entry is named");
}
