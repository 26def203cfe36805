#!/usr/bin/env python3
"""Writes crates/trailguard-rules/data/aws-ip-ranges.txt from one or more copies of AWS's ip-ranges.json.

usage: scripts/aws-ip-ranges.py ip-ranges.json [older-ip-ranges.json ...]

Every prefix of every service (IPv4 and IPv6) is kept, the snapshots are united (an address AWS announced
once is still read as AWS's in older logs) and overlapping or adjacent prefixes are merged, so the file
lists each AWS network once. CT106 reads it to tell addresses outside AWS from AWS's own.
Download the current list from https://ip-ranges.amazonaws.com/ip-ranges.json. Without a rebuild, a run
adds a downloaded list to the snapshot with `--aws-ip-ranges FILE` (or TRAILGUARD_AWS_IP_RANGES).
"""
import ipaddress
import json
import pathlib
import sys

OUT = pathlib.Path(__file__).resolve().parent.parent / "crates/trailguard-rules/data/aws-ip-ranges.txt"


def main(paths):
    if not paths:
        sys.exit(__doc__)
    v4, v6, dates = [], [], []
    for path in paths:
        data = json.loads(pathlib.Path(path).read_text())
        dates.append(data["createDate"])
        v4 += [ipaddress.ip_network(p["ip_prefix"]) for p in data["prefixes"]]
        v6 += [ipaddress.ip_network(p["ipv6_prefix"]) for p in data["ipv6_prefixes"]]
    merged = list(ipaddress.collapse_addresses(v4)) + list(ipaddress.collapse_addresses(v6))
    lines = [
        "# AWS's published address ranges (ip-ranges.json), every service, snapshots merged.",
        f"# Snapshots (createDate): {', '.join(sorted(dates))}. Written by scripts/aws-ip-ranges.py.",
    ] + [str(n) for n in merged]
    OUT.write_text("\n".join(lines) + "\n")
    print(f"{OUT}: {len(merged)} networks from {len(v4)} IPv4 and {len(v6)} IPv6 prefixes")


if __name__ == "__main__":
    main(sys.argv[1:])
