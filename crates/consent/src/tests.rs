use super::*;

fn doc(s: &str) -> ConsentDocument {
    ConsentDocument::parse(s.as_bytes()).unwrap()
}

#[test]
fn parses_the_design_document() {
    let d = doc(
        r#"{"telemetry_enabled": true, "companies": {"42": {"telemetry_enabled": true, "telemetry_ids_allowed": false}}}"#,
    );
    assert!(d.telemetry_enabled);
    assert_eq!(
        d.companies["42"],
        CompanyConsent {
            telemetry_enabled: true,
            telemetry_ids_allowed: false
        }
    );
    assert_eq!(ConsentDocument::parse(d.to_json().as_bytes()).unwrap(), d);
}

#[test]
fn strict_validation_names_the_field() {
    let cases = [
        ("[]", "(document): expected an object"),
        ("{}", "telemetry_enabled: missing"),
        (
            r#"{"telemetry_enabled": "yes"}"#,
            "telemetry_enabled: expected a boolean",
        ),
        (
            r#"{"telemetry_enabled": true, "extra": 1}"#,
            "extra: unknown field",
        ),
        (
            r#"{"telemetry_enabled": true, "companies": []}"#,
            "companies: expected an object of company ids",
        ),
        (
            r#"{"telemetry_enabled": true, "companies": {"7": true}}"#,
            "companies.\"7\": expected an object",
        ),
        (
            r#"{"telemetry_enabled": true, "companies": {"7": {"telemetry_enabled": 1}}}"#,
            "companies.\"7\".telemetry_enabled: expected a boolean",
        ),
        (
            r#"{"telemetry_enabled": true, "companies": {"7": {"telemetry_enabled": true, "telemetry_ids_allowed": "no"}}}"#,
            "companies.\"7\".telemetry_ids_allowed: expected a boolean",
        ),
        (
            r#"{"telemetry_enabled": true, "companies": {"7": {"telemetry_enabled": true, "ids": true}}}"#,
            "companies.\"7\".ids: unknown field",
        ),
        (
            r#"{"telemetry_enabled": true, "companies": {"7": {"telemetry_ids_allowed": true}}}"#,
            "companies.\"7\".telemetry_enabled: missing",
        ),
        (
            "{\"telemetry_enabled\": tru",
            "not valid JSON (line 1, column 25)",
        ),
    ];
    for (input, expected) in cases {
        let e = ConsentDocument::parse(input.as_bytes()).unwrap_err();
        assert_eq!(e.to_string(), expected, "{input}");
    }
}

#[test]
fn ids_allowed_defaults_to_false() {
    let d = doc(r#"{"telemetry_enabled": true, "companies": {"7": {"telemetry_enabled": true}}}"#);
    assert_eq!(
        decide(&d, Some("7"), Unattributed::Drop),
        Verdict::Forward { ids_allowed: false }
    );
}

#[test]
fn decision_table() {
    let d = doc(r#"{"telemetry_enabled": true, "companies": {
            "on": {"telemetry_enabled": true, "telemetry_ids_allowed": false},
            "ids": {"telemetry_enabled": true, "telemetry_ids_allowed": true},
            "off": {"telemetry_enabled": false, "telemetry_ids_allowed": false},
            "ids-only": {"telemetry_enabled": false, "telemetry_ids_allowed": true}}}"#);
    use Unattributed::*;
    let cases = [
        (Some("on"), Drop, Verdict::Forward { ids_allowed: false }),
        (Some("ids"), Drop, Verdict::Forward { ids_allowed: true }),
        (
            Some("off"),
            Drop,
            Verdict::Drop(DropReason::CompanyNotConsented),
        ),
        (
            Some("ids-only"),
            Drop,
            Verdict::Drop(DropReason::CompanyNotConsented),
        ),
        (
            Some("nobody"),
            Forward,
            Verdict::Drop(DropReason::CompanyUnknown),
        ),
        (None, Drop, Verdict::Drop(DropReason::Unattributed)),
        (None, Forward, Verdict::Forward { ids_allowed: false }),
    ];
    for (company, un, expected) in cases {
        assert_eq!(decide(&d, company, un), expected, "{company:?} {un:?}");
    }
    let mut off = d.clone();
    off.telemetry_enabled = false;
    for company in [Some("on"), Some("ids"), None] {
        for un in [Drop, Forward] {
            assert_eq!(
                decide(&off, company, un),
                Verdict::Drop(DropReason::TelemetryDisabled)
            );
        }
    }
}
