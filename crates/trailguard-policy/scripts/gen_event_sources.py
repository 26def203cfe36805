#!/usr/bin/env python3
"""Generate the CloudTrail eventSource -> IAM service prefix table from botocore's service models and our
embedded action catalog.

Usage (from the repository root):
    python3 crates/trailguard-policy/scripts/gen_event_sources.py \
        "$(python3 -c 'import botocore,os;print(os.path.dirname(botocore.__file__))')/data" \
        crates/trailguard-policy/src/catalog/catalog.tsv \
        crates/trailguard-policy/src/event_actions/event_sources.tsv

How a service is matched: CloudTrail names the service `<endpointPrefix>.amazonaws.com` (botocore
`metadata.endpointPrefix`). The IAM prefix is the catalog service whose action names cover the most of the
model's operation names, ties going to `signingName`, then `endpointPrefix`; a model whose operations match
no catalog action is left out (its events are reported as an unknown source). Models whose events CloudTrail
records under another source are listed in SOURCE_ALIASES (s3control's calls arrive as s3.amazonaws.com).

Output (TAB separated, sorted):
    B  <botocore version>
    S  <eventSource>  <iam prefix>  <operations>  <operations whose name is an action>
    U  <Operation>                               -- an operation of the S above with no action of that name
At run time an event maps by name identity (`<prefix>:<eventName>`) when the catalog has that action; the
hand-written exceptions (exceptions.tsv) come first; a `U` operation is reported as "API operation with no
IAM action of the same name", anything else as "not an operation of the service model".
"""
import gzip
import json
import os
import sys

import botocore

SOURCE_ALIASES = {"s3control": "s3.amazonaws.com"}


def catalog_actions(path):
    actions, prefix = {}, None
    for line in open(path, encoding="utf-8"):
        parts = line.rstrip("\n").split("\t")
        if parts[0] == "S":
            prefix = parts[1]
            actions[prefix] = set()
        elif parts[0] == "A" and prefix is not None:
            actions[prefix].add(parts[1].lower())
    return actions


def latest_model(service_dir):
    versions = sorted(v for v in os.listdir(service_dir) if os.path.isdir(os.path.join(service_dir, v)))
    for version in reversed(versions):
        for name in ("service-2.json", "service-2.json.gz"):
            model = os.path.join(service_dir, version, name)
            if os.path.exists(model):
                return model
    return None


def load_model(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return json.load(f)


def main(data_dir, catalog_path, out_path):
    catalog = catalog_actions(catalog_path)
    sources = {}  # eventSource -> (prefix, set of operations)
    for name in sorted(os.listdir(data_dir)):
        service_dir = os.path.join(data_dir, name)
        if not os.path.isdir(service_dir):
            continue
        model_path = latest_model(service_dir)
        if model_path is None:
            continue
        model = load_model(model_path)
        meta = model.get("metadata", {})
        ops = set(model.get("operations", {}))
        lower_ops = {op.lower() for op in ops}
        preferred = [meta.get("signingName"), meta.get("endpointPrefix")]

        def score(prefix):
            rank = preferred.index(prefix) if prefix in preferred else len(preferred)
            return (len(lower_ops & catalog[prefix]), -rank)

        best = max(catalog, key=score)
        if score(best)[0] == 0:
            continue
        endpoint = meta.get("endpointPrefix", name)
        # CloudTrail drops the `api.` some endpoints carry (api.ecr -> ecr.amazonaws.com).
        endpoint = endpoint[len("api."):] if endpoint.startswith("api.") else endpoint
        source = SOURCE_ALIASES.get(name, f"{endpoint}.amazonaws.com")
        if source in sources and sources[source][0] != best:
            # Two models on one source with different prefixes: keep the one that explains more operations.
            old_prefix, old_ops = sources[source]
            if len({o.lower() for o in old_ops} & catalog[old_prefix]) >= score(best)[0]:
                continue
            sources[source] = (best, ops)
        elif source in sources:
            sources[source][1].update(ops)
        else:
            sources[source] = (best, set(ops))

    out = [f"B\t{botocore.__version__}"]
    for source in sorted(sources):
        prefix, ops = sources[source]
        unmatched = sorted(op for op in ops if op.lower() not in catalog[prefix])
        out.append(f"S\t{source}\t{prefix}\t{len(ops)}\t{len(ops) - len(unmatched)}")
        out.extend(f"U\t{op}" for op in unmatched)
    with open(out_path, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
