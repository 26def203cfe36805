//! Where an address is: one of AWS's own (the snapshot of AWS's `ip-ranges.json` in
//! `data/aws-ip-ranges.txt`, every service's prefixes united and merged by `scripts/aws-ip-ranges.py`,
//! and any current copy of the list a run is given: [`AwsNetworks::with_published`]), one no one reaches
//! from the internet (private, shared, loopback, link-local), or outside both. A credential that only
//! works inside AWS showing up at an outside address has left AWS.
//!
//! The snapshot ages: a network AWS announced after it reads as outside. A run given the current list
//! (`--aws-ip-ranges FILE`) reads it as AWS's; the snapshot itself is regenerated when it is more than a
//! year old (its dates are in the file's header).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use ipnet::IpNet;

const SNAPSHOT: &str = include_str!("../../../data/aws-ip-ranges.txt");

/// AWS's networks as sorted, disjoint, inclusive ranges per family.
#[derive(Debug)]
pub struct AwsNetworks {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
    /// The `createDate` of the list added to the snapshot, when one was.
    published: Option<String>,
}

static BUILTIN: LazyLock<AwsNetworks> = LazyLock::new(|| networks(SNAPSHOT));

/// A copy of `ip-ranges.json` that cannot be read as AWS publishes it.
#[derive(Debug, thiserror::Error)]
pub enum IpRangesError {
    /// Not a source of the error: its text is all of it, said once.
    #[error("not AWS's ip-ranges.json: {0}")]
    Json(serde_json::Error),
    #[error("{list}[{index}]: `{text}` is not a network")]
    Prefix {
        list: &'static str,
        index: usize,
        text: String,
    },
    #[error("lists no prefix (AWS's list holds thousands)")]
    Empty,
}

/// The members of `ip-ranges.json` read here; the others (`region`, `service`, ...) are left alone.
#[derive(serde::Deserialize)]
struct IpRanges {
    #[serde(default, rename = "createDate")]
    create_date: Option<String>,
    prefixes: Vec<Ipv4Prefix>,
    #[serde(default)]
    ipv6_prefixes: Vec<Ipv6Prefix>,
}

#[derive(serde::Deserialize)]
struct Ipv4Prefix {
    ip_prefix: String,
}

#[derive(serde::Deserialize)]
struct Ipv6Prefix {
    ipv6_prefix: String,
}

impl AwsNetworks {
    /// The snapshot this build carries.
    pub fn builtin() -> &'static AwsNetworks {
        &BUILTIN
    }

    /// The snapshot united with every prefix of `json`, a copy of AWS's `ip-ranges.json` (as
    /// downloaded from `https://ip-ranges.amazonaws.com/ip-ranges.json`): a network either lists is
    /// AWS's, so older logs still read AWS's former addresses as AWS's.
    pub fn with_published(json: &str) -> Result<AwsNetworks, IpRangesError> {
        let list: IpRanges = serde_json::from_str(json).map_err(IpRangesError::Json)?;
        if list.prefixes.is_empty() && list.ipv6_prefixes.is_empty() {
            return Err(IpRangesError::Empty);
        }
        let builtin = AwsNetworks::builtin();
        let (mut v4, mut v6) = (builtin.v4.clone(), builtin.v6.clone());
        let not_a_network = |list, index, text: &str| IpRangesError::Prefix {
            list,
            index,
            text: shown(text, 80),
        };
        for (index, p) in list.prefixes.iter().enumerate() {
            match p.ip_prefix.parse::<IpNet>() {
                Ok(IpNet::V4(n)) => v4.push((u32::from(n.network()), u32::from(n.broadcast()))),
                _ => return Err(not_a_network("prefixes", index, &p.ip_prefix)),
            }
        }
        for (index, p) in list.ipv6_prefixes.iter().enumerate() {
            match p.ipv6_prefix.parse::<IpNet>() {
                Ok(IpNet::V6(n)) => v6.push((u128::from(n.network()), u128::from(n.broadcast()))),
                _ => return Err(not_a_network("ipv6_prefixes", index, &p.ipv6_prefix)),
            }
        }
        Ok(AwsNetworks {
            v4: merged(v4),
            v6: merged(v6),
            // Shown in a run's notes.
            published: Some(shown(&list.create_date.unwrap_or_default(), 40)),
        })
    }

    /// The `createDate` of the list added to the snapshot (empty when it had none), if one was.
    pub fn published(&self) -> Option<&str> {
        self.published.as_deref()
    }

    /// Whether `ip` is in one of these networks.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match canonical(ip) {
            IpAddr::V4(v4) => within(&self.v4, u32::from(v4)),
            IpAddr::V6(v6) => within(&self.v6, u128::from(v6)),
        }
    }

    /// `address` when it is an IP address on the internet outside these networks. `None` for AWS's own
    /// and internal addresses, and for what is not an address (AWS writes a service's name, or
    /// `AWS Internal`, where its own calls come from).
    pub fn outside(&self, address: &str) -> Option<IpAddr> {
        let ip = address.parse::<IpAddr>().ok()?;
        (!is_internal_address(ip) && !self.contains(ip)).then_some(ip)
    }
}

/// The networks listed in `text`, one CIDR a line (`#` starts a comment). A line that is not a network is
/// a defect of the file, which this crate ships: it is left out here and a test fails on it.
fn networks(text: &str) -> AwsNetworks {
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    for net in listed(text).filter_map(Result::ok) {
        match net {
            IpNet::V4(n) => v4.push((u32::from(n.network()), u32::from(n.broadcast()))),
            IpNet::V6(n) => v6.push((u128::from(n.network()), u128::from(n.broadcast()))),
        }
    }
    AwsNetworks {
        v4: merged(v4),
        v6: merged(v6),
        published: None,
    }
}

/// `ranges` sorted, those that overlap joined: what [`within`]'s binary search needs.
fn merged<T: Ord + Copy>(mut ranges: Vec<(T, T)>) -> Vec<(T, T)> {
    ranges.sort_unstable();
    let mut out: Vec<(T, T)> = Vec::with_capacity(ranges.len());
    for (start, end) in ranges {
        match out.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => out.push((start, end)),
        }
    }
    out
}

fn listed(text: &str) -> impl Iterator<Item = Result<IpNet, String>> + '_ {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| line.parse::<IpNet>().map_err(|_| line.to_owned()))
}

/// Whether `x` falls in one of the sorted, disjoint `ranges`.
fn within<T: Ord + Copy>(ranges: &[(T, T)], x: T) -> bool {
    let after = ranges.partition_point(|&(start, _)| start <= x);
    after > 0 && ranges[after - 1].1 >= x
}

/// Text of the file for a message or a note: its first `max` characters, escaped, whatever it holds.
fn shown(text: &str, max: usize) -> String {
    (text.chars().take(max).collect::<String>())
        .escape_debug()
        .to_string()
}

/// An IPv4 address written as IPv6 (`::ffff:a.b.c.d`) as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Whether `ip` is an address the internet does not route to: private, shared (carrier-grade NAT),
/// loopback, link-local, unspecified or multicast, IPv6 unique-local and link-local too. A call from such
/// an address came through a private network (a VPC endpoint, a NAT inside AWS), not from outside.
pub fn is_internal_address(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => internal_v6(v6),
    }
}

fn internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_broadcast()
        // 100.64.0.0/10, shared address space (RFC 6598).
        || (a == 100 && (64..128).contains(&b))
}

fn internal_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // fc00::/7 unique local, fe80::/10 link-local.
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_of_the_snapshot_is_a_network_and_none_overlap() {
        let bad: Vec<String> = listed(SNAPSHOT).filter_map(Result::err).collect();
        assert!(bad.is_empty(), "not networks: {bad:?}");
        let count = listed(SNAPSHOT).count();
        assert!(count > 1_000, "only {count} networks");
        assert_eq!(BUILTIN.v4.len() + BUILTIN.v6.len(), count);
        // Merged by the script: sorted, disjoint, never adjacent-and-overlapping.
        assert!(BUILTIN.v4.windows(2).all(|w| w[0].1 < w[1].0));
        assert!(BUILTIN.v6.windows(2).all(|w| w[0].1 < w[1].0));
    }

    #[test]
    fn aws_addresses_are_told_from_outside_ones() {
        // EC2 in us-west-2 (Stratus Red Team's runner), us-east-1's 52.4.0.0/14, S3 in ap-northeast-2,
        // and an IPv6 EC2 address in us-east-1.
        for aws in [
            "18.236.253.47",
            "52.4.0.1",
            "3.5.140.1",
            "2600:1f18::1",
            "::ffff:52.4.0.1",
        ] {
            assert_eq!(BUILTIN.outside(aws), None, "{aws}");
        }
        for outside in ["45.33.32.156", "198.51.100.23", "2001:db8::1"] {
            assert!(BUILTIN.outside(outside).is_some(), "{outside}");
        }
    }

    #[test]
    fn internal_addresses_and_names_are_not_outside() {
        for internal in [
            "10.0.1.50",
            "172.31.2.3",
            "192.168.0.9",
            "100.64.12.1",
            "127.0.0.1",
            "169.254.169.254",
            "fd00:ec2::254",
            "fe80::1",
        ] {
            assert!(is_internal_address(internal.parse().unwrap()), "{internal}");
            assert_eq!(BUILTIN.outside(internal), None, "{internal}");
        }
        for name in ["ec2.amazonaws.com", "AWS Internal", "", "1.2.3"] {
            assert_eq!(BUILTIN.outside(name), None, "{name}");
        }
    }

    #[test]
    fn the_edges_of_a_network_are_inside_it() {
        let n = networks("# test\n52.4.0.0/14\n\n2600:1f18::/33\n");
        assert!(within(&n.v4, u32::from(Ipv4Addr::new(52, 4, 0, 0))));
        assert!(within(&n.v4, u32::from(Ipv4Addr::new(52, 7, 255, 255))));
        assert!(!within(&n.v4, u32::from(Ipv4Addr::new(52, 8, 0, 0))));
        assert!(!within(&n.v4, u32::from(Ipv4Addr::new(52, 3, 255, 255))));
        assert!(within(
            &n.v6,
            u128::from("2600:1f18:7fff::1".parse::<Ipv6Addr>().unwrap())
        ));
        assert!(!within(
            &n.v6,
            u128::from("2600:1f18:8000::".parse::<Ipv6Addr>().unwrap())
        ));
    }

    /// A small `ip-ranges.json` as AWS writes it.
    fn published(prefixes: &[&str], ipv6: &[&str]) -> String {
        let v4: Vec<_> = prefixes
            .iter()
            .map(|p| serde_json::json!({"ip_prefix": p, "region": "us-east-1", "service": "EC2", "network_border_group": "us-east-1"}))
            .collect();
        let v6: Vec<_> = ipv6
            .iter()
            .map(|p| serde_json::json!({"ipv6_prefix": p, "region": "us-east-1", "service": "EC2", "network_border_group": "us-east-1"}))
            .collect();
        serde_json::json!({"syncToken": "1764000000", "createDate": "2026-11-24-21-13-07", "prefixes": v4, "ipv6_prefixes": v6})
            .to_string()
    }

    #[test]
    fn a_current_list_adds_its_networks_to_the_snapshot() {
        // 45.33.32.0/24 is not AWS's; say AWS announced it, overlapping networks of the snapshot too.
        let json = published(
            &["45.33.32.0/24", "52.4.0.0/16", "52.4.0.0/14"],
            &["2001:db8::/32"],
        );
        let current = AwsNetworks::with_published(&json).unwrap();
        assert_eq!(current.published(), Some("2026-11-24-21-13-07"));
        let hostile = json.replace("2026-11-24-21-13-07", r"\u001b[2J2026");
        let shown = AwsNetworks::with_published(&hostile).unwrap();
        assert_eq!(shown.published(), Some("\\u{1b}[2J2026"));
        assert_eq!(AwsNetworks::builtin().published(), None);
        for now_aws in ["45.33.32.156", "2001:db8::1"] {
            assert!(
                AwsNetworks::builtin().outside(now_aws).is_some(),
                "{now_aws}"
            );
            assert_eq!(current.outside(now_aws), None, "{now_aws}");
        }
        // The snapshot's networks stay AWS's; others stay outside.
        for aws in ["18.236.253.47", "52.4.0.1", "52.7.255.255", "2600:1f18::1"] {
            assert_eq!(current.outside(aws), None, "{aws}");
        }
        for outside in ["45.33.33.1", "198.51.100.23", "2001:db9::1"] {
            assert!(current.outside(outside).is_some(), "{outside}");
        }
        assert!(current.v4.windows(2).all(|w| w[0].1 < w[1].0));
        assert!(current.v6.windows(2).all(|w| w[0].1 < w[1].0));
        assert!(current.v4.len() <= BUILTIN.v4.len() + 1);
    }

    #[test]
    fn a_list_that_is_not_aws_s_is_refused_saying_where() {
        let error = |json: &str| AwsNetworks::with_published(json).unwrap_err().to_string();
        let truncated = error("{\"createDate\": \"2026-11-24\",\n \"prefixes\": [");
        assert!(
            truncated.starts_with("not AWS's ip-ranges.json: ")
                && truncated.contains("line 2 column"),
            "{truncated}"
        );
        let wrong_shape = error(r#"{"prefixes": [{"ip_prefix": 7}]}"#);
        assert!(wrong_shape.contains("line 1 column"), "{wrong_shape}");
        assert_eq!(
            error(&published(&["52.4.0.0/14", "52.4.0.0/33"], &[])),
            "prefixes[1]: `52.4.0.0/33` is not a network"
        );
        assert_eq!(
            error(&published(&[], &["10.0.0.0/8"])),
            "ipv6_prefixes[0]: `10.0.0.0/8` is not a network"
        );
        assert_eq!(
            error(&published(&["2600:1f18::/33"], &[])),
            "prefixes[0]: `2600:1f18::/33` is not a network"
        );
        assert_eq!(
            error(&published(&["bad\u{1b}[31m"], &[])),
            "prefixes[0]: `bad\\u{1b}[31m` is not a network"
        );
        assert_eq!(
            error(&published(&[], &[])),
            "lists no prefix (AWS's list holds thousands)"
        );
    }
}
