//! Arbitrary bytes into `ConsentDocument::parse`, the parser of the file (or URL body) the
//! app writes: never panics, and a document it accepts writes out (`to_json`) as a document
//! that parses to the same value, so a reload never changes what was consented.
#![no_main]

use consent::{decide, ConsentDocument, Unattributed, Verdict};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(doc) = ConsentDocument::parse(data) else {
        return;
    };
    let json = doc.to_json();
    let again = match ConsentDocument::parse(json.as_bytes()) {
        Ok(again) => again,
        Err(e) => panic!("written document does not parse: {e}"),
    };
    assert_eq!(again, doc);
    // The decision table: IDs never go without telemetry, nothing goes when the instance
    // switch is off.
    for (id, c) in &doc.companies {
        match decide(&doc, Some(id), Unattributed::Drop) {
            Verdict::Forward { ids_allowed } => {
                assert!(doc.telemetry_enabled && c.telemetry_enabled);
                assert_eq!(ids_allowed, c.telemetry_ids_allowed);
            }
            Verdict::Drop(_) => assert!(!doc.telemetry_enabled || !c.telemetry_enabled),
        }
    }
});
