//! The report as plain-text tables for people (`--format table`).

use std::fmt::Write as _;

use crate::report::{MonthReport, SegmentVerdict, ServerReport};

/// Left-aligned columns separated by two spaces; trailing spaces trimmed.
fn columns(rows: &[Vec<String>], indent: &str) -> String {
    let width = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..width)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::from(indent);
        for (i, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < row.len() {
                let pad = widths[i] - cell.chars().count() + 2;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

impl MonthReport {
    /// Renders the report as text tables: a summary per tenant, then each
    /// server's downtime by cause and its intervals with their reasons.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "SLA report {} ({}): {} to {}, {} days ({} ms)",
            self.month, self.time_zone, self.start, self.end, self.days, self.length.0
        );
        let _ = writeln!(
            out,
            "Evaluated at {}; {}",
            self.evaluated_at,
            if self.complete {
                "month complete.".to_string()
            } else {
                format!(
                    "month to date, counted up to {} (availability can only fall).",
                    self.evaluated_until
                )
            }
        );
        for tenant in &self.tenants {
            let _ = writeln!(
                out,
                "\nTenant {}: {} % over {} server(s); counted {}, excluded {}",
                tenant.tenant,
                tenant.availability.percent_string(),
                tenant.servers.len(),
                tenant.counted_downtime.human(),
                tenant.excluded_downtime.human()
            );
            let mut rows = vec![
                [
                    "SERVER",
                    "ENVIRONMENT",
                    "AVAILABILITY",
                    "REFUND",
                    "COUNTED",
                    "EXCLUDED",
                ]
                .map(String::from)
                .to_vec(),
            ];
            for server in &tenant.servers {
                rows.push(vec![
                    server.server.clone(),
                    server
                        .environment
                        .map_or_else(|| "-".to_string(), |e| e.to_string()),
                    format!("{} %", server.availability.percent_string()),
                    format!("{} %", server.refund.percent()),
                    server.counted_downtime.human(),
                    server.excluded_downtime.human(),
                ]);
            }
            out.push_str(&columns(&rows, "  "));
            for server in &tenant.servers {
                server_detail(&mut out, server);
            }
        }
        out
    }
}

fn server_detail(out: &mut String, server: &ServerReport) {
    if server.outages.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n  {}: downtime by cause", server.server);
    let mut rows = Vec::new();
    for c in &server.counted {
        rows.push(vec![
            "counted".to_string(),
            c.cause.to_string(),
            c.duration.human(),
            String::new(),
        ]);
    }
    for e in &server.excluded {
        rows.push(vec![
            "excluded".to_string(),
            e.cause.to_string(),
            e.duration.human(),
            e.reason.clone(),
        ]);
    }
    out.push_str(&columns(&rows, "    "));
    let _ = writeln!(out, "  {}: intervals", server.server);
    for outage in &server.outages {
        let _ = writeln!(
            out,
            "    outages[{}]{} {} from {} to {}{}",
            outage.index,
            outage
                .id
                .as_ref()
                .map_or_else(String::new, |id| format!(" {id}")),
            outage.cause,
            outage.start,
            outage.end.as_deref().unwrap_or("(open)"),
            outage
                .maintenance_window
                .as_ref()
                .map_or_else(String::new, |w| format!(", window {w}"))
        );
        let rows: Vec<Vec<String>> = outage
            .segments
            .iter()
            .map(|s| {
                vec![
                    format!("{} to {}", s.start, s.end),
                    s.duration.human(),
                    match s.verdict {
                        SegmentVerdict::Counted => "counted",
                        SegmentVerdict::Excluded => "excluded",
                        SegmentVerdict::Overlapped => "overlapped",
                    }
                    .to_string(),
                    s.reason.clone(),
                ]
            })
            .collect();
        out.push_str(&columns(&rows, "      "));
    }
}
