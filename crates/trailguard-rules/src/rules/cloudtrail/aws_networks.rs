//! Where an address is: one of AWS's own (the snapshot of AWS's `ip-ranges.json` in
//! `data/aws-ip-ranges.txt`, every service's prefixes united and merged by `scripts/aws-ip-ranges.py`),
//! one no one reaches from the internet (private, shared, loopback, link-local), or outside both. A
//! credential that only works inside AWS showing up at an outside address has left AWS.
//!
//! The snapshot ages: a network AWS announced after it reads as outside. Regenerate it from the current
//! list when it is more than a year old (its dates are in the file's header).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use ipnet::IpNet;

const SNAPSHOT: &str = include_str!("../../../data/aws-ip-ranges.txt");

/// Disjoint networks as sorted inclusive ranges, per family.
struct Networks {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

static AWS: LazyLock<Networks> = LazyLock::new(|| networks(SNAPSHOT));

/// The networks listed in `text`, one CIDR a line (`#` starts a comment). A line that is not a network is
/// a defect of the file, which this crate ships: it is left out here and a test fails on it.
fn networks(text: &str) -> Networks {
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    for net in listed(text).filter_map(Result::ok) {
        match net {
            IpNet::V4(n) => v4.push((u32::from(n.network()), u32::from(n.broadcast()))),
            IpNet::V6(n) => v6.push((u128::from(n.network()), u128::from(n.broadcast()))),
        }
    }
    v4.sort_unstable();
    v6.sort_unstable();
    Networks { v4, v6 }
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

/// Whether `ip` is in one of AWS's published networks.
pub fn is_aws_address(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => within(&AWS.v4, u32::from(v4)),
        IpAddr::V6(v6) => within(&AWS.v6, u128::from(v6)),
    }
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

/// `address` when it is an IP address on the internet outside AWS's networks. `None` for AWS's own and
/// internal addresses, and for what is not an address (AWS writes a service's name, or `AWS Internal`,
/// where its own calls come from).
pub fn outside_aws(address: &str) -> Option<IpAddr> {
    let ip = address.parse::<IpAddr>().ok()?;
    (!is_internal_address(ip) && !is_aws_address(ip)).then_some(ip)
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
        assert_eq!(AWS.v4.len() + AWS.v6.len(), count);
        // Merged by the script: sorted, disjoint, never adjacent-and-overlapping.
        assert!(AWS.v4.windows(2).all(|w| w[0].1 < w[1].0));
        assert!(AWS.v6.windows(2).all(|w| w[0].1 < w[1].0));
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
            assert_eq!(outside_aws(aws), None, "{aws}");
        }
        for outside in ["45.33.32.156", "198.51.100.23", "2001:db8::1"] {
            assert!(outside_aws(outside).is_some(), "{outside}");
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
            assert_eq!(outside_aws(internal), None, "{internal}");
        }
        for name in ["ec2.amazonaws.com", "AWS Internal", "", "1.2.3"] {
            assert_eq!(outside_aws(name), None, "{name}");
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
}
