//! Events are stored once, as core/v1, and served in both the core/v1 and
//! the events.k8s.io/v1 views.

use serde_json::{Map, Value, json};

fn take(o: &mut Map<String, Value>, k: &str) -> Option<Value> {
    o.remove(k).filter(|v| !v.is_null())
}

/// Truncates a MicroTime to a Time (`...:05.123456Z` → `...:05Z`).
fn to_seconds(v: &Value) -> Value {
    match v.as_str() {
        Some(s) if s.contains('.') => {
            let base = s.split('.').next().unwrap_or(s);
            Value::String(format!("{base}Z"))
        }
        _ => v.clone(),
    }
}

/// events.k8s.io/v1 → core/v1 (the stored form).
pub fn to_core(ev: &Value) -> Value {
    let mut o = ev.as_object().cloned().unwrap_or_default();
    let mut out = Map::new();
    out.insert("apiVersion".into(), json!("v1"));
    out.insert("kind".into(), json!("Event"));
    o.remove("apiVersion");
    o.remove("kind");
    if let Some(m) = take(&mut o, "metadata") {
        out.insert("metadata".into(), m);
    }
    if let Some(r) = take(&mut o, "regarding") {
        out.insert("involvedObject".into(), r);
    }
    if let Some(n) = take(&mut o, "note") {
        out.insert("message".into(), n);
    }
    let controller = take(&mut o, "reportingController");
    if let Some(c) = &controller {
        out.insert("reportingComponent".into(), c.clone());
    }
    let mut source = take(&mut o, "deprecatedSource")
        .and_then(|s| s.as_object().cloned())
        .unwrap_or_default();
    if let Some(c) = controller {
        source.entry("component").or_insert(c);
    }
    if !source.is_empty() {
        out.insert("source".into(), Value::Object(source));
    }
    let event_time = take(&mut o, "eventTime");
    let series = take(&mut o, "series");
    let first =
        take(&mut o, "deprecatedFirstTimestamp").or_else(|| event_time.as_ref().map(to_seconds));
    let deprecated_last = take(&mut o, "deprecatedLastTimestamp");
    let last = series
        .as_ref()
        .and_then(|s| s.get("lastObservedTime"))
        .map(to_seconds)
        .or(deprecated_last)
        .or_else(|| first.clone());
    let deprecated_count = take(&mut o, "deprecatedCount");
    let count = series
        .as_ref()
        .and_then(|s| s.get("count"))
        .cloned()
        .or(deprecated_count)
        .unwrap_or(json!(1));
    if let Some(f) = first {
        out.insert("firstTimestamp".into(), f);
    }
    if let Some(l) = last {
        out.insert("lastTimestamp".into(), l);
    }
    out.insert("count".into(), count);
    if let Some(t) = event_time {
        out.insert("eventTime".into(), t);
    }
    if let Some(s) = series {
        out.insert("series".into(), s);
    }
    // action, reason, type, related, reportingInstance keep their names.
    for (k, v) in o {
        out.insert(k, v);
    }
    Value::Object(out)
}

/// core/v1 (stored) → events.k8s.io/v1.
pub fn to_events_v1(ev: &Value) -> Value {
    let mut o = ev.as_object().cloned().unwrap_or_default();
    let mut out = Map::new();
    out.insert("apiVersion".into(), json!("events.k8s.io/v1"));
    out.insert("kind".into(), json!("Event"));
    o.remove("apiVersion");
    o.remove("kind");
    if let Some(m) = take(&mut o, "metadata") {
        out.insert("metadata".into(), m);
    }
    if let Some(r) = take(&mut o, "involvedObject") {
        out.insert("regarding".into(), r);
    }
    if let Some(n) = take(&mut o, "message") {
        out.insert("note".into(), n);
    }
    let component = take(&mut o, "reportingComponent");
    let source = take(&mut o, "source");
    if let Some(c) = component
        .clone()
        .or_else(|| source.as_ref().and_then(|s| s.get("component")).cloned())
    {
        out.insert("reportingController".into(), c);
    }
    if let Some(s) = source {
        out.insert("deprecatedSource".into(), s);
    }
    if let Some(f) = take(&mut o, "firstTimestamp") {
        out.insert("deprecatedFirstTimestamp".into(), f);
    }
    if let Some(l) = take(&mut o, "lastTimestamp") {
        out.insert("deprecatedLastTimestamp".into(), l);
    }
    let count = take(&mut o, "count");
    let has_series = o.contains_key("series");
    if let Some(c) = count
        && !has_series
    {
        out.insert("deprecatedCount".into(), c);
    }
    for (k, v) in o {
        out.insert(k, v);
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorder_event_maps_to_core_and_back() {
        let ev = json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "x.1", "namespace": "default"},
            "eventTime": "2026-01-01T00:00:05.123456Z",
            "regarding": {"kind": "VirtualServer", "name": "x", "namespace": "default", "uid": "u"},
            "note": "done", "reason": "Reconciled", "action": "Reconcile", "type": "Normal",
            "reportingController": "vs-controller", "reportingInstance": "pod-1",
            "series": {"count": 2, "lastObservedTime": "2026-01-01T00:00:09.000001Z"}
        });
        let core = to_core(&ev);
        assert_eq!(core["involvedObject"]["name"], "x");
        assert_eq!(core["message"], "done");
        assert_eq!(core["source"]["component"], "vs-controller");
        assert_eq!(core["count"], 2);
        assert_eq!(core["firstTimestamp"], "2026-01-01T00:00:05Z");
        assert_eq!(core["lastTimestamp"], "2026-01-01T00:00:09Z");
        let back = to_events_v1(&core);
        assert_eq!(back["regarding"], ev["regarding"]);
        assert_eq!(back["note"], "done");
        assert_eq!(back["series"], ev["series"]);
        assert_eq!(back["reportingController"], "vs-controller");
        assert_eq!(back["eventTime"], ev["eventTime"]);
    }
}
