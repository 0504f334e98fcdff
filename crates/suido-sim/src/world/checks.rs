//! Field checks shared by the families: names, tags, addresses, CIDRs, ports, domains,
//! references; and the derived addresses the platform hands out.

use std::net::{IpAddr, Ipv4Addr};

use jiff::{SignedDuration, Timestamp};
use suido_provider::{ProviderError, ProviderResult, Tags};

pub(crate) fn after(now: Timestamp, ms: u64) -> Timestamp {
    let ms = i64::try_from(ms).unwrap_or(i64::MAX);
    now.checked_add(SignedDuration::from_millis(ms))
        .unwrap_or(Timestamp::MAX)
}

pub(crate) fn check_name(field: &str, name: &str) -> ProviderResult<()> {
    if name.is_empty() || name.len() > 253 || name.chars().any(char::is_control) {
        return Err(ProviderError::invalid(format!(
            "{field} must be 1 to 253 characters without control characters"
        )));
    }
    Ok(())
}

pub(crate) fn check_tags(tags: &Tags) -> ProviderResult<()> {
    for (k, v) in tags {
        if k.is_empty() || k.len() > 128 || v.len() > 256 {
            return Err(ProviderError::invalid(format!(
                "tag `{k}`: keys must be 1 to 128 characters and values at most 256"
            )));
        }
    }
    Ok(())
}

/// The number at the end of an id (`srv-000012` is 12).
fn id_number(id: &str) -> u32 {
    id.rsplit('-')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// The address of a server on the server segment, derived from its id's number.
pub(crate) fn address_for(id: &str) -> String {
    let n = id_number(id);
    format!("10.20.{}.{}", (n / 250) % 256, n % 250 + 4)
}

/// The address the platform allocates to a single (non-redundant) load balancer.
pub(crate) fn lb_address_for(id: &str) -> String {
    let n = id_number(id);
    format!("10.20.{}.{}", 200 + (n / 250) % 56, n % 250 + 4)
}

/// Checks an IPv4 address.
pub(crate) fn check_ipv4(field: &str, text: &str) -> ProviderResult<Ipv4Addr> {
    text.parse()
        .map_err(|_| ProviderError::invalid(format!("{field} `{text}` is not an IPv4 address")))
}

/// Checks a CIDR (`192.0.2.0/24`, `2001:db8::/32`; a bare address is a /32 or /128).
pub(crate) fn check_cidr(field: &str, text: &str) -> ProviderResult<()> {
    let bad = || {
        ProviderError::invalid(format!(
            "{field} `{text}` is not a CIDR such as 192.0.2.0/24 or 2001:db8::/32"
        ))
    };
    let (addr, len) = match text.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (text, None),
    };
    let addr: IpAddr = addr.parse().map_err(|_| bad())?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    if let Some(len) = len {
        let len: u32 = len.parse().map_err(|_| bad())?;
        if len > max {
            return Err(bad());
        }
    }
    Ok(())
}

/// Checks a port number.
pub(crate) fn check_port(field: &str, port: u32) -> ProviderResult<()> {
    if !(1..=65535).contains(&port) {
        return Err(ProviderError::invalid(format!(
            "{field} {port} must be 1 to 65535"
        )));
    }
    Ok(())
}

/// Checks a number against a range.
pub(crate) fn check_range(field: &str, value: u32, min: u32, max: u32) -> ProviderResult<()> {
    if value < min || value > max {
        return Err(ProviderError::invalid(format!(
            "{field} {value} must be {min} to {max}"
        )));
    }
    Ok(())
}

/// Checks a DNS domain name of at least two labels.
pub(crate) fn check_domain(field: &str, text: &str) -> ProviderResult<()> {
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let labels: Vec<&str> = text.split('.').collect();
    if text.len() > 253 || labels.len() < 2 || !labels.iter().all(|l| label_ok(l)) {
        return Err(ProviderError::invalid(format!(
            "{field} `{text}` is not a domain name: two or more labels of a-z, 0-9 and -, separated by dots"
        )));
    }
    Ok(())
}

/// Checks that a list has no duplicates, naming the first one.
pub(crate) fn check_unique<T: PartialEq + std::fmt::Display>(
    field: &str,
    items: &[T],
) -> ProviderResult<()> {
    for (i, item) in items.iter().enumerate() {
        if items[..i].contains(item) {
            return Err(ProviderError::invalid(format!(
                "{field} lists `{item}` twice"
            )));
        }
    }
    Ok(())
}

/// The message for a reference to a resource that does not exist (or that another tenant
/// owns: the message is the same).
pub(crate) fn no_such(field: &str, noun: &str, id: &str) -> ProviderError {
    ProviderError::invalid(format!("{field}: {noun} {id} does not exist"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_addresses_and_domains() {
        for ok in ["192.0.2.0/24", "10.0.0.1", "2001:db8::/32", "0.0.0.0/0"] {
            assert!(check_cidr("deny[0]", ok).is_ok(), "{ok}");
        }
        for bad in [
            "192.0.2.0/33",
            "300.1.1.1/8",
            "10.0.0.0/x",
            "",
            "2001:db8::/129",
        ] {
            let err = check_cidr("functions.deny[0]", bad)
                .err()
                .map(|e| e.to_string());
            assert!(
                err.as_deref()
                    .is_some_and(|e| e.contains("functions.deny[0]")),
                "{bad}: {err:?}"
            );
        }
        assert!(check_ipv4("vrrp.virtualAddress", "10.20.9.1").is_ok());
        assert!(check_ipv4("vrrp.virtualAddress", "10.20.9").is_err());
        assert!(check_domain("senderDomain", "mail.kawasemi.example.jp").is_ok());
        for bad in ["localhost", "Mail.example.jp", "a..b", "-a.jp", "a_b.jp"] {
            assert!(check_domain("senderDomain", bad).is_err(), "{bad}");
        }
        assert!(check_unique("allowedClients", &["a", "b", "a"]).is_err());
        assert!(check_port("port", 0).is_err() && check_port("port", 65535).is_ok());
    }

    #[test]
    fn derived_addresses_are_stable() {
        assert_eq!(address_for("srv-000001"), "10.20.0.5");
        assert_eq!(lb_address_for("lb-000001"), "10.20.200.5");
    }
}
