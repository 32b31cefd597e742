//! The attribution rules on their own: resolution order, conflicts, batch records.

use super::*;

const T1: &str = "771a43a4192642f0b136d5159a501700";
const T2: &str = "b20c65740ea54321a81618f4de9e1096";

fn t(s: &str) -> TraceId {
    TraceId::parse(s).unwrap()
}

fn own(company: Option<&str>, trace: Option<&str>) -> Own {
    Own {
        company: Ok(company.map(str::to_owned)),
        by: if company.is_some() {
            AttributedBy::Attribute
        } else {
            AttributedBy::Unattributed
        },
        user: None,
        trace: trace.map(t),
    }
}

/// A gate whose trace map is a list, recording what it was taught.
#[derive(Default)]
struct MapGate {
    map: Vec<(TraceId, TraceCompany)>,
    taught: Vec<(TraceId, String)>,
}

impl Gate for MapGate {
    fn decide(&mut self, _: &ItemType, _: &Attribution<'_>) -> Decision {
        Decision::Forward { ids_allowed: false }
    }
    fn trace(&mut self, trace: TraceId) -> TraceCompany {
        (self.map.iter())
            .find(|(t, _)| *t == trace)
            .map_or(TraceCompany::Unknown, |(_, c)| c.clone())
    }
    fn learn(&mut self, trace: TraceId, what: Learned<'_>) {
        let what = match what {
            Learned::Company(c) => c.to_owned(),
            Learned::Ambiguous => "<two>".to_owned(),
        };
        self.taught.push((trace, what));
    }
}

fn resolved(company: Option<&str>, by: AttributedBy) -> Result<Resolved, Ambiguous> {
    Ok(Resolved {
        company: company.map(str::to_owned),
        by,
    })
}

#[test]
fn own_value_then_sibling_then_trace_map() {
    let mut gate = MapGate {
        map: vec![(t(T2), TraceCompany::Company("9".into()))],
        ..MapGate::default()
    };
    let mut traces = Traces::default();
    traces.note(&own(Some("7"), Some(T1)));
    traces.note(&own(None, Some(T1)));
    traces.teach(&mut gate);
    assert_eq!(gate.taught, [(t(T1), "7".to_owned())]);

    // (a) its own value, even when the trace says another company.
    let by_attribute = traces.resolve(&own(Some("8"), Some(T1)), &mut gate);
    assert_eq!(by_attribute, resolved(Some("8"), AttributedBy::Attribute));
    // (b) the same envelope's trace.
    let by_sibling = traces.resolve(&own(None, Some(T1)), &mut gate);
    assert_eq!(by_sibling, resolved(Some("7"), AttributedBy::Sibling));
    // (c) the trace map.
    let by_map = traces.resolve(&own(None, Some(T2)), &mut gate);
    assert_eq!(by_map, resolved(Some("9"), AttributedBy::TraceMap));
    // No rule.
    let other = "0000000000000000000000000000000a";
    let none = traces.resolve(&own(None, Some(other)), &mut gate);
    assert_eq!(none, resolved(None, AttributedBy::Unattributed));
    let no_trace = traces.resolve(&own(None, None), &mut gate);
    assert_eq!(no_trace, resolved(None, AttributedBy::Unattributed));
}

#[test]
fn a_trace_naming_two_companies_attributes_no_one() {
    let mut gate = MapGate {
        map: vec![(t(T2), TraceCompany::Ambiguous)],
        ..MapGate::default()
    };
    let mut traces = Traces::default();
    traces.note(&own(Some("7"), Some(T1)));
    traces.note(&own(Some("8"), Some(T1)));
    traces.note(&own(Some("7"), Some(T1)));
    traces.teach(&mut gate);
    assert_eq!(gate.taught, [(t(T1), "<two>".to_owned())]);
    assert_eq!(
        traces.resolve(&own(None, Some(T1)), &mut gate),
        Err(Ambiguous)
    );
    assert_eq!(
        traces.resolve(&own(None, Some(T2)), &mut gate),
        Err(Ambiguous)
    );
    // Items that name their company keep it.
    let seven = traces.resolve(&own(Some("7"), Some(T1)), &mut gate);
    assert_eq!(seven, resolved(Some("7"), AttributedBy::Attribute));
    // An item naming two companies itself makes its trace ambiguous too.
    let mut traces = Traces::default();
    let two = Own {
        company: Err(Ambiguous),
        ..own(None, Some(T2))
    };
    traces.note(&two);
    assert_eq!(traces.resolve(&two, &mut gate), Err(Ambiguous));
    assert_eq!(
        traces.resolve(&own(None, Some(T2)), &mut MapGate::default()),
        Err(Ambiguous)
    );
}
