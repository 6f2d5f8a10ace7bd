#!/usr/bin/env python3
"""Lists every field of TiDB Operator's v1alpha1 Backup, Restore, BackupSchedule and CompactBackup CRDs, one per
line, for the round-trip test operator/tests/tidb_fields.rs.

    python3 scripts/tidb-fields.py TIDB_OPERATOR_CHECKOUT [REVISION] > operator/tests/fixtures/tidb-operator-fields.txt

REVISION names the checkout's commit in the header when it is not a git work tree.

Fields whose schema is a Kubernetes type (the same names as KUBERNETES_TYPED in operator/src/api/crd.rs) are listed
once, not field by field: the test gives each a representative value.
"""
import subprocess
import sys

import yaml

KUBERNETES_TYPED = {"additionalVolumeMounts", "additionalVolumes", "affinity", "env", "imagePullSecrets",
                    "podSecurityContext", "resources", "tolerations", "volume", "volumeMount"}
KINDS = [("Backup", "backups"), ("Restore", "restores"), ("BackupSchedule", "backupschedules"),
         ("CompactBackup", "compactbackups")]


def kind_of(schema):
    if schema.get("x-kubernetes-int-or-string"):
        return "int-or-string"
    if schema.get("format") == "date-time":
        return "date-time"
    return schema.get("type", "any")


def walk(schema, path, out):
    props = schema.get("properties") or {}
    items = schema.get("items")
    extra = schema.get("additionalProperties")
    if not props and not isinstance(items, dict) and not isinstance(extra, dict):
        out.append((path, kind_of(schema)))
        return
    for name, child in sorted(props.items()):
        if name in KUBERNETES_TYPED:
            out.append((f"{path}.{name}", "kubernetes"))
        else:
            walk(child, f"{path}.{name}", out)
    if isinstance(items, dict):
        walk(items, f"{path}[]", out)
    if isinstance(extra, dict):
        walk(extra, f"{path}{{}}", out)


def main(checkout, revision=None):
    if revision is None:
        git = subprocess.run(["git", "-C", checkout, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        revision = git.stdout.strip() or "unknown"
    print("# Every field of TiDB Operator's v1alpha1 CRDs (manifests/crd/v1/pingcap.com_<plural>.yaml at "
          f"{revision}), by scripts/tidb-fields.py: kind, path from the object's root, "
          "type (`kubernetes`: a Kubernetes type, not listed field by field).")
    for kind, plural in KINDS:
        with open(f"{checkout}/manifests/crd/v1/pingcap.com_{plural}.yaml") as f:
            crd = yaml.safe_load(f)
        schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        out = []
        for top in ("spec", "status"):
            walk(schema["properties"][top], top, out)
        for path, kind_name in out:
            print(kind, path, kind_name)


if __name__ == "__main__":
    main(*sys.argv[1:3])
