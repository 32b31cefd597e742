//! The report: one row per target (min / median / max over the runs), the ratios between
//! targets measured in the same run, and the raw figures as JSON.

use crate::{Figures, RunArgs};

/// Min, median and max of the finite values.
fn stats(v: &[f64]) -> (f64, f64, f64) {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    s.sort_by(|a, b| a.total_cmp(b));
    (s[0], s[s.len() / 2], s[s.len() - 1])
}

/// Prints the table and the ratios; writes `--json` if asked.
pub fn report(
    args: &RunArgs,
    results: &[(String, Vec<Figures>)],
    outage: Option<(usize, u64, f64, u64)>,
) -> anyhow::Result<()> {
    println!(
        "\n{} runs; saturation with {} connections for {} s; fixed rate {} envelopes/s for {} s",
        args.runs, args.concurrency, args.seconds, args.rate, args.seconds
    );
    let width = results
        .iter()
        .map(|(n, _)| n.len())
        .max()
        .unwrap_or(6)
        .max(6);
    println!(
        "{:<width$} {:>26} {:>22} {:>22} {:>18} {:>20} {:>20} {:>8}",
        "target",
        "envelopes/s (min/med/max)",
        "CPU ms/env saturated",
        "CPU ms/env at rate",
        "peak RSS MiB",
        "p50 ms at rate",
        "p99 ms at rate",
        "refused"
    );
    let mut json = serde_json::Map::new();
    for (name, figs) in results {
        if figs.is_empty() {
            continue;
        }
        let col = |f: fn(&Figures) -> f64| stats(&figs.iter().map(f).collect::<Vec<_>>());
        let (rps, cpu, cpu_rate, rss, p50, p99, p999) = (
            col(|f| f.rps),
            col(|f| f.cpu_ms_per_envelope),
            col(|f| f.cpu_ms_at_rate),
            col(|f| f.peak_rss_mib),
            col(|f| f.p50),
            col(|f| f.p99),
            col(|f| f.p999),
        );
        let refused: u64 = figs.iter().map(|f| f.errors + f.rate_errors).sum();
        let fmt = |t: (f64, f64, f64), d: usize| format!("{:.d$} / {:.d$} / {:.d$}", t.0, t.1, t.2);
        println!(
            "{:<width$} {:>26} {:>22} {:>22} {:>18} {:>20} {:>20} {:>8}",
            name,
            fmt(rps, 0),
            fmt(cpu, 3),
            fmt(cpu_rate, 3),
            fmt(rss, 1),
            fmt(p50, 2),
            fmt(p99, 2),
            refused
        );
        json.insert(
            name.to_string(),
            serde_json::json!({
                "rps": [rps.0, rps.1, rps.2], "cpu_ms_per_envelope": [cpu.0, cpu.1, cpu.2],
                "cpu_ms_per_envelope_at_rate": [cpu_rate.0, cpu_rate.1, cpu_rate.2],
                "peak_rss_mib": [rss.0, rss.1, rss.2], "p50_ms": [p50.0, p50.1, p50.2],
                "p99_ms": [p99.0, p99.1, p99.2], "p999_ms": [p999.0, p999.1, p999.2],
                "errors": refused,
            }),
        );
    }
    let med = |name: &str, f: fn(&Figures) -> f64| {
        results
            .iter()
            .find(|(n, _)| n == name)
            .map_or(f64::NAN, |(_, v)| {
                stats(&v.iter().map(f).collect::<Vec<_>>()).1
            })
    };
    let ratio = med("proxy", |f| f.rps) / med("forwarder", |f| f.rps);
    let ratio_floor = med("proxy", |f| f.rps) / med("rewriter", |f| f.rps);
    let floor_over_forwarder = med("rewriter", |f| f.rps) / med("forwarder", |f| f.rps);
    let added = (
        med("proxy", |f| f.p50) - med("direct", |f| f.p50),
        med("proxy", |f| f.p99) - med("direct", |f| f.p99),
        med("proxy", |f| f.p999) - med("direct", |f| f.p999),
    );
    println!("\nproxy / forwarder saturated throughput (medians): {ratio:.2}");
    println!("rewriter / forwarder (the ceiling of any JSON-rewriting proxy): {floor_over_forwarder:.2}; proxy / rewriter: {ratio_floor:.2}");
    println!("added latency at {} envelopes/s, proxy minus direct (medians): p50 {:.2} ms, p99 {:.2} ms, p999 {:.2} ms", args.rate, added.0, added.1, added.2);
    println!(
        "proxy CPU seconds per 1,000 envelopes (medians): {:.3} saturated, {:.3} at {} envelopes/s",
        med("proxy", |f| f.cpu_ms_per_envelope),
        med("proxy", |f| f.cpu_ms_at_rate),
        args.rate
    );
    // Each variant against the in-memory proxy of the same runs: the cost of that mode.
    let mut variants = serde_json::Map::new();
    for (name, _) in results.iter().filter(|(n, _)| n.starts_with("proxy:")) {
        let rps = med(name, |f| f.rps) / med("proxy", |f| f.rps);
        let cpu = med(name, |f| f.cpu_ms_per_envelope) / med("proxy", |f| f.cpu_ms_per_envelope);
        let cpu_rate = med(name, |f| f.cpu_ms_at_rate) / med("proxy", |f| f.cpu_ms_at_rate);
        let p99 = med(name, |f| f.p99) - med("proxy", |f| f.p99);
        println!(
            "{name} / proxy (medians): throughput {rps:.2}, CPU per envelope {cpu:.2} saturated and {cpu_rate:.2} at {} envelopes/s, p99 at that rate {p99:+.2} ms",
            args.rate
        );
        variants.insert(
            name.clone(),
            serde_json::json!({"rps": rps, "cpu_saturated": cpu, "cpu_at_rate": cpu_rate, "p99_added_ms": p99}),
        );
    }
    json.insert("proxy_over_forwarder_rps".into(), ratio.into());
    json.insert("proxy_over_rewriter_rps".into(), ratio_floor.into());
    json.insert(
        "rewriter_over_forwarder_rps".into(),
        floor_over_forwarder.into(),
    );
    json.insert(
        "added_latency_ms".into(),
        serde_json::json!({"p50": added.0, "p99": added.1, "p999": added.2}),
    );
    if !variants.is_empty() {
        json.insert("variants_over_proxy".into(), variants.into());
    }
    if let Some((sent, errors, peak, delivered)) = outage {
        println!("outage: {sent} acknowledged, {errors} refused, peak RSS {peak:.1} MiB, {delivered} delivered after recovery");
        json.insert("outage".into(), serde_json::json!({"acknowledged": sent, "refused": errors, "peak_rss_mib": peak, "delivered_after": delivered}));
    }
    if let Some(path) = &args.json {
        std::fs::write(
            path,
            serde_json::to_string_pretty(&serde_json::Value::Object(json))?,
        )?;
    }
    Ok(())
}
